"""Per-layer progress of an image upload: a live display on a terminal, one line per layer in CI logs.

The engine and skopeo adapters report layer events in one vocabulary (`waiting`, `sending`, `sent`,
`exists`); a renderer turns them into output. CI logs get exactly one line per layer, written when
the layer is done, because a line per chunk buries the log. A terminal (stderr is a TTY and `CI` is not
set) gets a rich progress display with bytes and speed per layer, when rich is installed.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

log = logging.getLogger(__name__)

WAITING, SENDING, SENT, EXISTS = "waiting", "sending", "sent", "exists"
_DONE = (SENT, EXISTS)


def human_bytes(count: float) -> str:
    """Bytes for people: 1536 -> '1.5 KB', 52428800 -> '52.4 MB' (decimal units, like docker)."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"  # pragma: no cover - the loop always returns


@dataclass
class _Layer:
    state: str = WAITING
    current: int = 0
    total: int | None = None
    started: float | None = None
    finished: float | None = None


@dataclass
class LayerProgress:
    """Collects layer events; subclasses render them. Also the totals a summary line needs."""

    title: str
    clock: Any = time.monotonic
    layers: dict[str, _Layer] = field(default_factory=dict)

    def update(self, layer: str, state: str, current: int | None = None, total: int | None = None) -> None:
        """Record an event for `layer`: state is waiting, sending, sent or exists."""
        entry = self.layers.setdefault(layer, _Layer())
        if entry.state in _DONE:
            return  # engines repeat a final status now and then; a layer finishes once
        if state == SENDING and entry.started is None:
            entry.started = self.clock()
        if current is not None:
            entry.current = current
        if total is not None and total > 0:
            entry.total = total
        entry.state = state
        if state in _DONE:
            entry.finished = self.clock()
            if state == SENT and entry.total:
                entry.current = entry.total
            self._done(layer, entry)
        else:
            self._progress(layer, entry)

    def _progress(self, layer: str, entry: _Layer) -> None:
        """A layer moved on (bytes sent); nothing to do in plain mode."""

    def _done(self, layer: str, entry: _Layer) -> None:
        log.info("%s", _layer_line(layer, entry))

    def close(self) -> None:
        """The upload ended (or failed); stop any live display."""

    @property
    def sent(self) -> int:
        """Layers uploaded."""
        return sum(1 for e in self.layers.values() if e.state == SENT)

    @property
    def existing(self) -> int:
        """Layers the registry already had."""
        return sum(1 for e in self.layers.values() if e.state == EXISTS)

    @property
    def bytes_sent(self) -> int:
        """Bytes of the layers uploaded (as the engine reports them)."""
        return sum(e.current for e in self.layers.values() if e.state == SENT)

    def summary(self) -> str:
        """E.g. '3 layers: 2 sent (45.1 MB), 1 already in the registry'."""
        parts = [f"{self.sent} sent ({human_bytes(self.bytes_sent)})"] if self.sent else []
        if self.existing:
            parts.append(f"{self.existing} already in the registry")
        count = len(self.layers)
        return f"{count} layer{'s' if count != 1 else ''}" + (f": {', '.join(parts)}" if parts else "")


def _short(layer: str) -> str:
    return layer.split(":", 1)[-1][:12]


def _layer_line(layer: str, entry: _Layer) -> str:
    if entry.state == EXISTS:
        return f"layer {_short(layer)}: already in the registry"
    size = entry.total or entry.current
    if entry.started is not None and entry.finished is not None and entry.finished > entry.started and size:
        seconds = entry.finished - entry.started
        return (
            f"layer {_short(layer)}: sent {human_bytes(size)} in {seconds:.1f} s "
            f"({human_bytes(size / seconds)}/s)"
        )
    return f"layer {_short(layer)}: sent" + (f" {human_bytes(size)}" if size else "")


class RichLayerProgress(LayerProgress):
    """A live rich display: one bar per layer with bytes, speed and state."""

    def __init__(self, title: str, stream: IO[str] | None = None) -> None:
        super().__init__(title)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskID,
            TextColumn,
            TransferSpeedColumn,
        )

        self._tasks: dict[str, TaskID] = {}
        self._progress_bar = Progress(
            TextColumn("[cyan]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[state]}"),
            console=Console(file=stream or sys.stderr),
            transient=False,
        )
        self._progress_bar.console.print(f"[cyan]•[/] {title}")
        self._progress_bar.start()

    def _task(self, layer: str, entry: _Layer) -> Any:
        if layer not in self._tasks:
            self._tasks[layer] = self._progress_bar.add_task(
                f"layer {_short(layer)}", total=entry.total, state=entry.state
            )
        return self._tasks[layer]

    def _progress(self, layer: str, entry: _Layer) -> None:
        self._progress_bar.update(
            self._task(layer, entry), completed=entry.current, total=entry.total, state=entry.state
        )

    def _done(self, layer: str, entry: _Layer) -> None:
        state = "already in the registry" if entry.state == EXISTS else "sent"
        total = entry.total or entry.current or 1
        self._progress_bar.update(self._task(layer, entry), completed=total, total=total, state=state)

    def close(self) -> None:
        self._progress_bar.stop()


def live_display_wanted(stream: IO[str] | None = None) -> bool:
    """True on an interactive terminal: stderr is a TTY, `CI` is unset and rich is installed."""
    stream = stream or sys.stderr
    if os.environ.get("CI") or not (hasattr(stream, "isatty") and stream.isatty()):
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def layer_progress(title: str, *, live: bool | None = None) -> Iterator[LayerProgress]:
    """A progress renderer for one upload; `live` None picks by `live_display_wanted()`.

    >>> with layer_progress("push hello:1.0", live=False) as progress:
    ...     progress.update("sha256:abc", "exists")
    >>> progress.summary()
    '1 layer: 1 already in the registry'
    """
    if live is None:
        live = live_display_wanted()
    if live:
        progress: LayerProgress = RichLayerProgress(title)
    else:
        log.info("%s", title)
        progress = LayerProgress(title)
    try:
        yield progress
    finally:
        progress.close()
