"""The hardened YAML loader (config files and native task definition files alike): size, encoding, links,
alias bombs, depth and duplicate keys refused; each key's line kept for error messages."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from ci_ecs.errors import ConfigError

# Limits that keep hostile YAML (a "billion laughs" of nested aliases, a self-referencing anchor, a
# file of nothing but `[`) from costing more than a moment: a real config or task definition is a few
# KiB, reuses an anchor a handful of times and nests less than ten levels. ECS itself caps a task
# definition at 64 KiB, so 1 MiB leaves room without letting a stray binary through.
MAX_FILE_BYTES = 1024 * 1024
MAX_ALIAS_NODES = 10_000
MAX_DEPTH = 64


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing what only hostile or mistaken input does.

    - an alias whose expansion would pass MAX_ALIAS_NODES nodes in total (nested aliases grow
      exponentially when the document is walked or copied, though PyYAML shares the objects),
    - an alias to the collection that contains it (a recursive structure),
    - nesting deeper than MAX_DEPTH (the composer recurses per level),
    - a key repeated in one mapping (PyYAML keeps the last one silently).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> nodes in its full expansion
        self._open: set[str] = set()  # anchors of collections still being composed
        self._alias_nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} refers to a collection that contains it", event.start_mark)
            node: yaml.Node | None = super().compose_node(parent, index)
            self._alias_nodes += self._sizes.get(id(node), 1)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"aliases expand to more than {MAX_ALIAS_NODES} nodes (refused as a YAML bomb)",
                    event.start_mark)
            return node
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        anchor = event.anchor
        if anchor is not None and not self.check_event(yaml.ScalarEvent):
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        if isinstance(node, yaml.SequenceNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(item), 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1)
                                            for k, v in node.value)
            self._refuse_duplicate_keys(node)
        return node

    @staticmethod
    def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key_node, _ in node.value:
            # `<<` merge keys may repeat, and a merged key may be overridden: that is YAML's merge rule.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            first = seen.setdefault((key_node.tag, key_node.value), key_node)
            if first is not key_node:
                raise yaml.composer.ComposerError(
                    None, None, f"duplicate key {key_node.value!r} (first on line {first.start_mark.line + 1})",
                    key_node.start_mark)


def read_text_file(path: Path, *, what: str, key: str | None = None) -> str:
    """The text of a config or task definition file: at most MAX_FILE_BYTES of UTF-8, else a ConfigError.

    The error names the file and says what is wrong with it ("is not UTF-8 text", "is larger than").
    """
    source = str(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever. What was opened is
        # checked to be a regular file before a byte is read (a FIFO, a device or a directory is refused).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", key=key, source=source) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"the {what} is not a regular file (a FIFO, device or directory is not read)",
                              key=key, source=source)
        with os.fdopen(fd, "rb") as stream:
            fd = -1  # closed with the stream
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", key=key, source=source) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"the {what} is larger than {MAX_FILE_BYTES // 1024} KiB", key=key, source=source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the {what} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
                          "a binary file?)", key=key, source=source) from None
    if "\x00" in text:
        raise ConfigError(f"the {what} is not text (it contains NUL bytes; a binary file?)", key=key, source=source)
    return text


def _compose_and_construct(text: str, source: str, key: str | None) -> tuple[yaml.Node | None, Any]:
    loader: _SafeLoader | None = None
    try:
        loader = _SafeLoader(text)  # reads the text at once: a control character is a ReaderError here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", key=key, source=source,
                          line=mark.line + 1 if mark else None) from None
    except ValueError as exc:  # e.g. an integer longer than Python's int_max_str_digits
        raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", key=key, source=source) from None
    finally:
        if loader is not None:
            loader.dispose()
    return node, data


def load_yaml_text(text: str, source: str, *, key: str | None = None) -> Any:
    """Parse YAML safely (no YAML bombs, recursive anchors or duplicate keys); errors are ConfigErrors.

    Every YAML file ci-ecs reads goes through here: the config and native task definition files.

    >>> load_yaml_text("a: 1\\nb: [x, y]\\n", "example.yml")
    {'a': 1, 'b': ['x', 'y']}
    """
    return _compose_and_construct(text, source, key)[1]


def _positions(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _positions(value_node, path + (key,), out)
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _positions(item, path + (index,), out)


def _refuse_outside_link(path: Path) -> None:
    """A config file that is a symbolic link must lead into the working tree (the current directory or the
    link's own directory): a link a pull request adds could otherwise make ci-ecs read, and quote in its
    errors, any file the CI user can read (~/.aws/credentials, /etc/...). Nothing of the target is read."""
    if not path.is_symlink():
        return
    target = path.resolve()
    trees = {Path.cwd().resolve(), path.absolute().parent.resolve()}
    if not any(target == tree or tree in target.parents for tree in trees):
        raise ConfigError("the config file is a symbolic link to a file outside the working tree; not read "
                          "(copy the file into the repository, or give its real path with -c)", source=str(path))


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    source = str(path)
    if not path.exists() and not path.is_symlink():
        raise ConfigError("config file not found (give -c/--config or CI_ECS_CONFIG)", source=source)
    _refuse_outside_link(path)
    text = read_text_file(path, what="config file")
    node, data = _compose_and_construct(text, source, None)
    if node is None or data is None:
        raise ConfigError("the config file is empty (expected a mapping with cluster, service, task)",
                          source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"the top level must be a mapping of keys, not a {type(data).__name__}",
                          source=source, line=1)
    positions: dict[tuple[Any, ...], int] = {}
    _positions(node, (), positions)
    return data, positions
