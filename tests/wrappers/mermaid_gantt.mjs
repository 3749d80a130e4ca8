// Checks Mermaid gantt charts with Mermaid's own parser and gantt database (npm packages "mermaid" and "jsdom",
// installed by install-tools.sh): the text parses, and every task's start and end dates are valid.
// Usage: node mermaid_gantt.mjs TOOLS_DIR CHART_FILE   -> prints the tasks as JSON (exit 1 when the chart is invalid)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [toolsDir, chartFile] = process.argv.slice(2);
const modules = join(toolsDir, "node_modules");
// Mermaid sanitises labels with DOMPurify, which needs a DOM: jsdom gives it one (as a browser would).
const { JSDOM } = createRequire(join(modules, "noop.js"))("jsdom");
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(join(modules, "mermaid", "dist", "mermaid.core.mjs")).href);

const text = readFileSync(chartFile, "utf8");
try {
  await mermaid.parse(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  // getTasks() computes every task's dates: an unparsable date throws here, as it would when GitHub renders it.
  const tasks = diagram.db.getTasks().map((t) => ({
    section: t.section, name: t.task.trim(), start: t.startTime.getTime(), end: t.endTime.getTime(),
  }));
  console.log(JSON.stringify({ type: diagram.type, dateFormat: diagram.db.getDateFormat(),
    axisFormat: diagram.db.getAxisFormat(), tasks }));
} catch (err) {
  console.error(`invalid chart: ${err.message}`);
  process.exit(1);
}
