// bpmnlint's rules (the project's .bpmnlintrc: bpmnlint:recommended) over diagrams read from stdin,
// one JSON string (a diagram's XML) per line; for each it writes one line: a JSON list of
// {id, category, message, rule}. It stays up for the next diagram (node starts in about 0.3 s).
// Called by engine/bpmn/lint.py, so uploads, submits, publishes and `pathways workflows validate`
// judge a file by the same rules the modeller shows live (bpmn-js-bpmnlint) and `make test` runs.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { BpmnModdle } = require("bpmn-moddle");
const camunda = require("camunda-bpmn-moddle/resources/camunda.json");
const Linter = require("bpmnlint/lib/linter");
const NodeResolver = require("bpmnlint/lib/resolver/node-resolver");

const config = JSON.parse(readFileSync(join(__dirname, "..", "..", ".bpmnlintrc"), "utf-8"));

async function lint(xml) {
  const moddle = new BpmnModdle({ camunda });
  let root;
  try {
    root = (await moddle.fromXML(xml)).rootElement;
  } catch (error) {
    return [{ id: null, category: "error", message: "bpmnlint cannot read it: " + error.message, rule: "parse" }];
  }
  const linter = new Linter({ config, resolver: new NodeResolver() });
  const results = await linter.lint(root);
  const found = [];
  for (const [rule, reports] of Object.entries(results)) {
    for (const r of reports) {
      found.push({ id: r.id || null, category: r.category === "warn" ? "warning" : r.category, message: r.message, rule: r.name || rule });
    }
  }
  return found;
}

const lines = require("node:readline").createInterface({ input: process.stdin, crlfDelay: Infinity });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let found;
    try {
      found = await lint(JSON.parse(line));
    } catch (error) {
      found = [{ id: null, category: "error", message: "bpmnlint failed: " + error.message, rule: "bpmnlint" }];
    }
    process.stdout.write(JSON.stringify(found) + "\n");
  });
});
