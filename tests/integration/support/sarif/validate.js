#!/usr/bin/env node
// Validates SARIF logs against the SARIF 2.1.0 JSON schema, plus the parts GitHub code scanning
// relies on that the schema leaves optional.
//
//   node validate.js LOG.sarif [--expect-results N] [--expect-rule CODE]...
//
// The schema is the SARIF 2.1.0 (rtm.5, the OASIS standard) JSON schema file carried by the npm
// package @microsoft/jest-sarif; it is a draft-04 schema, so it is compiled with ajv-draft-04.
"use strict";

const fs = require("fs");
const path = require("path");
const Ajv = require("ajv-draft-04");
const addFormats = require("ajv-formats");

function loadSchema() {
  const pkg = path.dirname(require.resolve("@microsoft/jest-sarif/package.json"));
  const file = path.join(pkg, "lib", "schemas", "sarif-2.1.0-rtm.5.json");
  return { file, schema: JSON.parse(fs.readFileSync(file, "utf8")) };
}

function parseArgs(argv) {
  const out = { file: undefined, expectResults: undefined, expectRules: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--expect-results") out.expectResults = Number(argv[++i]);
    else if (a === "--expect-rule") out.expectRules.push(argv[++i]);
    else if (out.file === undefined) out.file = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (out.file === undefined) throw new Error("usage: validate.js LOG.sarif [options]");
  return out;
}

// Checks beyond the schema: what code scanning needs to place and group a result.
function codeScanningProblems(log) {
  const problems = [];
  if (log.version !== "2.1.0") problems.push(`version is ${log.version}, not 2.1.0`);
  if (!Array.isArray(log.runs) || log.runs.length !== 1) {
    problems.push("expected exactly one run");
    return problems;
  }
  const run = log.runs[0];
  const driver = run.tool && run.tool.driver;
  if (!driver || driver.name !== "oomlint") problems.push("tool.driver.name is not oomlint");
  const rules = (driver && driver.rules) || [];
  const ruleIds = new Set();
  rules.forEach((r, i) => {
    if (ruleIds.has(r.id)) problems.push(`rule ${r.id} listed twice`);
    ruleIds.add(r.id);
    if (!/^OOM[0-9]{3}$/.test(r.id)) problems.push(`rules[${i}].id ${r.id} is not a rule code`);
    if (!r.shortDescription || !r.shortDescription.text) {
      problems.push(`rule ${r.id} has no shortDescription`);
    }
    if (!r.helpUri) problems.push(`rule ${r.id} has no helpUri`);
  });
  (run.results || []).forEach((res, i) => {
    const where = `results[${i}]`;
    if (!ruleIds.has(res.ruleId)) problems.push(`${where}.ruleId ${res.ruleId} is not in driver.rules`);
    if (typeof res.ruleIndex === "number" && rules[res.ruleIndex] && rules[res.ruleIndex].id !== res.ruleId) {
      problems.push(`${where}.ruleIndex does not point at ${res.ruleId}`);
    }
    if (!res.message || !res.message.text) problems.push(`${where} has no message text`);
    const loc = res.locations && res.locations[0] && res.locations[0].physicalLocation;
    if (!loc) {
      problems.push(`${where} has no physicalLocation`);
      return;
    }
    const uri = loc.artifactLocation && loc.artifactLocation.uri;
    if (!uri) problems.push(`${where} has no artifactLocation.uri`);
    else if (uri.startsWith("/") || /^[a-z]+:/i.test(uri)) {
      if (!loc.artifactLocation.uriBaseId) {
        problems.push(`${where} uri ${uri} is absolute; code scanning wants it relative to the repository`);
      }
    }
    const region = loc.region;
    if (!region || !(region.startLine >= 1)) problems.push(`${where} has no region.startLine`);
    else if (region.startColumn !== undefined && !(region.startColumn >= 1)) {
      problems.push(`${where} region.startColumn < 1`);
    }
  });
  return problems;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const text = fs.readFileSync(args.file, "utf8");
  let log;
  try {
    log = JSON.parse(text);
  } catch (e) {
    console.error(`${args.file}: not JSON: ${e.message}`);
    process.exit(1);
  }
  const { file, schema } = loadSchema();
  // unicodeRegExp: false because the schema's `language` pattern has a stray `]`, which is an
  // error in a /u regular expression but a literal character without the flag.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  let failed = false;
  if (!validate(log)) {
    failed = true;
    console.error(`${args.file}: does not match ${path.basename(file)}:`);
    for (const e of validate.errors.slice(0, 30)) {
      console.error(`  ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
    }
  }
  for (const p of codeScanningProblems(log)) {
    failed = true;
    console.error(`${args.file}: ${p}`);
  }
  const results = (log.runs && log.runs[0] && log.runs[0].results) || [];
  if (args.expectResults !== undefined && results.length !== args.expectResults) {
    failed = true;
    console.error(`${args.file}: ${results.length} results, expected ${args.expectResults}`);
  }
  for (const code of args.expectRules) {
    if (!results.some((r) => r.ruleId === code)) {
      failed = true;
      console.error(`${args.file}: no result for ${code}`);
    }
  }
  if (failed) process.exit(1);
  console.log(`${args.file}: valid SARIF 2.1.0 (${path.basename(file)}), ${results.length} results`);
}

main();
