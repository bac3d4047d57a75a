// Drives a running code-server (VS Code in the browser, with the oomlint .vsix installed) in
// headless Chromium through puppeteer-core, and checks from the page what a user sees. Run by
// tests/integration/vscode_e2e.sh, which starts code-server, writes the expected results (from
// `oomlint check` on the same files) and passes everything in OOMLINT_E2E_* variables.
//
// Every wait has a time limit and says what it waited for; on a failed check the page is saved
// as <artifacts>/<check>.png and <check>.txt (its text). OOMLINT_E2E_DEBUG=1 saves them after
// every check.
"use strict";

const fs = require("fs");
const path = require("path");
const childProcess = require("child_process");
const puppeteer = require("puppeteer-core");

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run tests/integration/vscode_e2e.sh)`);
  return value;
}

const BASE_URL = env("OOMLINT_E2E_URL");
const PROJECT = env("OOMLINT_E2E_PROJECT");
const EXPECTED = env("OOMLINT_E2E_EXPECTED");
const ARTIFACTS = env("OOMLINT_E2E_ARTIFACTS");
const CHROMIUM = env("OOMLINT_E2E_CHROMIUM");
const PROFILE = env("OOMLINT_E2E_CHROME_PROFILE");
const BINARY = env("OOMLINT_BINARY");
const SETTINGS = env("OOMLINT_E2E_SETTINGS");
const DEBUG = process.env.OOMLINT_E2E_DEBUG === "1";

// Time limits (ms). The first diagnostics include starting the extension host and the server.
const T_START = 90_000;
const T_LINT = 30_000;
const T_UI = 15_000;

let page;

const readJson = (file) => JSON.parse(fs.readFileSync(path.join(EXPECTED, file), "utf8"));
const readText = (file) => fs.readFileSync(file, "utf8");
const squash = (s) => s.replace(/\s+/g, " ").trim();

// ---- waiting ----------------------------------------------------------------------------------

// Polls `probe` (async, in Node) until it returns something other than undefined/null/false.
async function until(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last !== undefined && last !== null && last !== false) return last;
    } catch (e) {
      last = `error: ${e.message}`;
    }
    if (Date.now() > deadline) {
      const seen = typeof last === "string" ? last : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last seen: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Waits for an element matching `selector` whose text passes `textTest` (a string to contain).
async function elementWithText(what, selector, text, timeoutMs = T_UI) {
  return until(what, timeoutMs, async () => {
    const handles = await page.$$(selector);
    for (const h of handles) {
      const t = await h.evaluate((el) => (el.offsetParent !== null ? el.textContent : ""));
      if (t.includes(text)) return h;
    }
    return undefined;
  });
}

// ---- artifacts --------------------------------------------------------------------------------

async function dump(name) {
  const base = path.join(ARTIFACTS, name.replace(/[^A-Za-z0-9_.-]+/g, "_"));
  try {
    await page.screenshot({ path: `${base}.png` });
    const text = await page.evaluate(() => document.body.innerText);
    fs.writeFileSync(`${base}.txt`, text);
    console.log(`  saved ${base}.png and ${base}.txt`);
  } catch (e) {
    console.log(`  could not save the page: ${e.message}`);
  }
}

// ---- the workbench ----------------------------------------------------------------------------

async function runCommand(title) {
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  await until("the command palette to open", T_UI, () =>
    page.evaluate(() => {
      const input = document.querySelector(".quick-input-widget input");
      return input !== null && document.activeElement === input && input.value.startsWith(">");
    }),
  );
  await page.keyboard.type(title);
  await clickQuickInputRow(`"${title}" in the command palette`, title);
}

// Clicks the row labelled `label` of the open quick input (palette, quick open). The list is
// re-rendered while it filters, so a row found may be gone when clicked: then it looks again.
async function clickQuickInputRow(what, label) {
  await until(what, T_UI, async () => {
    for (const h of await page.$$(".quick-input-widget .monaco-list-row")) {
      try {
        const text = await h.evaluate((el) => el.querySelector(".label-name")?.textContent ?? "");
        if (text !== label) continue;
        await h.click();
        return true;
      } catch (e) {
        if (/detached|not clickable|no longer/i.test(e.message)) return undefined;
        throw e;
      }
    }
    return undefined;
  });
}

async function openFile(name) {
  await page.keyboard.press("Escape");
  await page.keyboard.down("Control");
  await page.keyboard.press("p");
  await page.keyboard.up("Control");
  await until("quick open", T_UI, () =>
    page.evaluate(() => {
      const input = document.querySelector(".quick-input-widget input");
      return input !== null && document.activeElement === input;
    }),
  );
  await page.keyboard.type(name);
  await clickQuickInputRow(`${name} in quick open`, name);
  await until(`the ${name} tab to be active`, T_UI, () =>
    page.evaluate(
      (n) => document.querySelector(".tab.active")?.getAttribute("aria-label")?.startsWith(n) ?? false,
      name,
    ),
  );
}

// The text of the active editor, line by line from the rendered view (the settings make the
// whole file fit on screen; the caller compares with a known text, so a missing line shows).
function editorText() {
  return page.evaluate(() => {
    const view = document.querySelector(".editor-group-container.active .monaco-editor .view-lines");
    if (view === null) return null;
    const lines = [...view.querySelectorAll(":scope > .view-line")].map((l) => ({
      top: parseFloat(l.style.top),
      text: l.textContent.replace(/\u00a0/g, " "),
    }));
    lines.sort((a, b) => a.top - b.top);
    return lines.map((l) => l.text).join("\n");
  });
}

async function editorTextBecomes(what, want, timeoutMs = T_LINT) {
  let seen = null;
  try {
    await until(what, timeoutMs, async () => {
      seen = await editorText();
      return seen === want;
    });
  } catch (e) {
    throw new Error(`${e.message.replace(/ \(last seen.*$/s, "")}\n${lineDiff(want, seen ?? "")}`);
  }
}

function lineDiff(want, got) {
  const a = want.split("\n");
  const b = got.split("\n");
  const out = [`  expected ${a.length} lines, the editor shows ${b.length}`];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < 12; i++) {
    if (a[i] !== b[i])
      out.push(`  line ${i + 1}: expected ${JSON.stringify(a[i])}, got ${JSON.stringify(b[i])}`);
  }
  return out.join("\n");
}

// The Problems panel, as rows: {resource, code, line, col, message} for markers, grouped under
// the resource row that precedes them.
async function problems() {
  return page.evaluate(() => {
    const panel = document.querySelector(".markers-panel");
    if (panel === null) return null;
    const rows = [...panel.querySelectorAll(".monaco-list-row")];
    rows.sort((a, b) => Number(a.getAttribute("data-index")) - Number(b.getAttribute("data-index")));
    const out = [];
    let resource = null;
    for (const r of rows) {
      if (r.querySelector(".related-info-resource")) continue;
      const message = r.querySelector(".marker-message");
      if (message === null) {
        resource = r.querySelector(".label-name")?.textContent ?? r.textContent;
        const more = r.getAttribute("aria-label");
        if (more) resource += ` | ${more}`;
        continue;
      }
      out.push({
        resource,
        message: message.textContent,
        code: r.querySelector(".marker-code")?.textContent ?? "",
        pos: r.querySelector(".marker-line")?.textContent ?? "",
      });
    }
    return out;
  });
}

async function showProblems() {
  const open = await page.evaluate(() => document.querySelector(".markers-panel")?.offsetParent != null);
  if (!open) await runCommand("View: Focus Problems (Errors, Warnings, Infos)");
  await until("the Problems panel", T_UI, () =>
    page.evaluate(() => document.querySelector(".markers-panel")?.offsetParent != null),
  );
}

// ---- the server's capabilities ----------------------------------------------------------------

// Sends `initialize` to `oomlint server` and returns its capabilities.
function serverCapabilities() {
  return new Promise((resolve, reject) => {
    const child = childProcess.spawn(BINARY, ["server"], { stdio: ["pipe", "pipe", "inherit"] });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("oomlint server did not answer initialize within 10 s"));
    }, 10_000);
    let buffer = Buffer.alloc(0);
    const send = (msg) => {
      const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...msg }));
      child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
      child.stdin.write(body);
    };
    child.stdout.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/Content-Length: *(\d+)/i.exec(buffer.subarray(0, end).toString())?.[1]);
        if (buffer.length < end + 4 + length) return;
        const msg = JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString());
        buffer = buffer.subarray(end + 4 + length);
        if (msg.id === 1) {
          clearTimeout(timer);
          send({ id: 2, method: "shutdown" });
          send({ method: "exit" });
          child.stdin.end();
          resolve(msg.result?.capabilities ?? {});
        }
      }
    });
    child.on("error", reject);
    send({ id: 1, method: "initialize", params: { processId: null, rootUri: null, capabilities: {} } });
  });
}

// ---- the checks -------------------------------------------------------------------------------

const results = [];

async function check(name, fn) {
  const t = Date.now();
  try {
    const note = await fn();
    const status = note?.status ?? "ok";
    results.push({ name, status, note: note?.detail ?? "" });
    console.log(
      `${status.padEnd(5)} ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)${note?.detail ? `: ${note.detail}` : ""}`,
    );
    if (DEBUG) await dump(name);
  } catch (e) {
    results.push({ name, status: "FAIL", note: e.message });
    console.log(`FAIL  ${name} (${((Date.now() - t) / 1000).toFixed(1)} s): ${e.message}`);
    await dump(name);
    // The extension's log (and the LSP trace, when oomlint.trace.server is on) next to it.
    try {
      await runCommand("oomlint: Show Output");
      await until("the oomlint output channel", T_UI, () =>
        page.evaluate(() => document.querySelector(".output-view .monaco-editor .view-lines") !== null),
      );
      await dump(`${name} output`);
      await showProblems();
    } catch (e2) {
      console.log(`  could not show the oomlint output: ${e2.message}`);
    }
  }
}

const trainPath = path.join(PROJECT, "train.py");
const original = readText(trainPath);
const expectedTrain = readJson("train.json");

function markerKey(d) {
  return `${d.code} [Ln ${d.location.row}, Col ${d.location.column}] ${d.message}`;
}

// The markers of one resource in the Problems panel, as markerKey strings.
async function panelKeys(resourcePrefix) {
  const rows = (await problems()) ?? [];
  return rows
    .filter((r) => r.resource !== null && r.resource.startsWith(resourcePrefix))
    .map((r) => `${r.code.trim()} ${r.pos.trim()} ${r.message.trim()}`)
    .sort();
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: PROFILE,
    defaultViewport: { width: 1400, height: 1600 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--password-store=basic",
    ],
    protocolTimeout: 60_000,
  });
  const t0 = Date.now();
  try {
    page = await browser.newPage();
    page.on("pageerror", (e) => console.log(`  page error: ${e.message}`));
    await page.goto(`${BASE_URL}?folder=${encodeURIComponent(PROJECT)}`, {
      waitUntil: "domcontentloaded",
      timeout: 60_000,
    });
    await until("the workbench to load", T_START, () =>
      page.evaluate(() => document.querySelector(".monaco-workbench .part.statusbar") !== null),
    );
    const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    console.log(`the workbench is up (${since()} after Chromium)`);
    await openFile("train.py");
    await showProblems();
    console.log(`train.py is open, Problems panel shown (${since()})`);

    await check("(a) Problems panel for train.py", async () => {
      const want = expectedTrain.map(markerKey).sort();
      if (want.length === 0) throw new Error("oomlint check found nothing in train.py");
      let got;
      try {
        await until(
          `the ${want.length} findings of oomlint check in the Problems panel`,
          T_START,
          async () => {
            got = await panelKeys("train.py");
            return JSON.stringify(got) === JSON.stringify(want);
          },
        );
      } catch (e) {
        throw new Error(
          `${e.message}\n  want: ${JSON.stringify(want, null, 1)}\n  got: ${JSON.stringify(got, null, 1)}`,
        );
      }
      return { detail: `${want.length} problems: ${expectedTrain.map((d) => d.code).join(" ")}` };
    });

    const oom201 = expectedTrain.find((d) => d.code === "OOM201");

    await check("(b) hover on the OOM201 squiggle shows the rule page and its links", async () => {
      if (oom201 === undefined) throw new Error("oomlint check reports no OOM201 in train.py");
      const page201 = readText(new URL(oom201.url));
      const title = squash(/^# (.*)$/m.exec(page201)[1].replace(/`/g, ""));
      const firstFinding = squash(/## What it finds\n\n([^\n]*)/.exec(page201)[1]);
      const at = await squiggle(oom201.location.row);
      await page.mouse.move(at.x - 40, at.y - 30);
      await page.mouse.move(at.x, at.y, { steps: 5 });
      const hover = await until("a hover with the OOM201 rule page", T_UI, async () => {
        return page.evaluate((want) => {
          for (const h of document.querySelectorAll(".monaco-hover")) {
            if (h.getClientRects().length === 0) continue; // hidden
            const text = h.textContent.replace(/\s+/g, " ");
            if (!text.includes(want)) continue;
            const links = [...h.querySelectorAll("a")].map((a) => ({
              text: a.textContent.trim(),
              href: a.getAttribute("data-href") || a.getAttribute("href") || "",
            }));
            return { text, links };
          }
          return undefined;
        }, title);
      });
      if (!hover.text.includes(firstFinding)) {
        throw new Error(
          `the hover lacks the rule page's text "${firstFinding}"; it reads: ${hover.text.slice(0, 400)}`,
        );
      }
      // VS Code shows a file: link of the server's machine as vscode-remote://<host>/<path>.
      const linkPath = (href) => {
        try {
          const u = new URL(href);
          return ["file:", "vscode-remote:"].includes(u.protocol) ? decodeURIComponent(u.pathname) : null;
        } catch {
          return null;
        }
      };
      const wantPath = decodeURIComponent(new URL(oom201.url).pathname);
      const docLink = hover.links.find((l) => l.text === "OOM201 documentation");
      if (docLink === undefined || linkPath(docLink.href) !== wantPath) {
        throw new Error(
          `no "OOM201 documentation" link to ${oom201.url}; links: ${JSON.stringify(hover.links)}`,
        );
      }
      const guide = `guide ${oom201.section}`;
      const guideLink = hover.links.find((l) => l.text === guide);
      const guidePath = path.join(path.dirname(path.dirname(wantPath)), "guide", `${oom201.section}.md`);
      if (guideLink === undefined || linkPath(guideLink.href) !== guidePath) {
        throw new Error(`no "${guide}" link to the guide page; links: ${JSON.stringify(hover.links)}`);
      }
      await page.keyboard.press("Escape");
      return { detail: `"${title}", ${hover.links.length} links incl. ${docLink.href}` };
    });

    await check("(c) the OOM201 quick fix changes exactly that line", async () => {
      const want = readText(path.join(EXPECTED, "fix_oom201.py"));
      const changed = diffLines(original, want);
      if (changed.length !== 1 || changed[0] !== oom201.location.row) {
        throw new Error(
          `oomlint check --fix --select OOM201 changed lines ${changed}, not just ${oom201.location.row}`,
        );
      }
      await editorTextBecomes("the editor to show train.py as on disk", original, T_UI);
      // The cursor onto the squiggle with Go to Line, the mouse away from the text: a hover that
      // opens under the mouse (left there by the hover check) closed the code action menu as it
      // opened, in about one run in four.
      await squiggle(oom201.location.row);
      await page.mouse.move(100, 900); // the Explorer's empty space: no hover there
      await page.keyboard.press("Escape");
      await until("no hover on the page", T_UI, () =>
        page.evaluate(() =>
          [...document.querySelectorAll(".monaco-hover")].every((h) => h.getClientRects().length === 0),
        ),
      );
      await page.keyboard.down("Control");
      await page.keyboard.press("g");
      await page.keyboard.up("Control");
      await until("the Go to Line box", T_UI, () =>
        page.evaluate(() => {
          const input = document.querySelector(".quick-input-widget input");
          return input !== null && document.activeElement === input;
        }),
      );
      const col = oom201.location.column + 1;
      await page.keyboard.type(`${oom201.location.row}:${col}`);
      await page.keyboard.press("Enter");
      await until(`the cursor at line ${oom201.location.row}, column ${col}`, T_UI, () =>
        page.evaluate(
          (want) => document.body.innerText.includes(want),
          `Ln ${oom201.location.row}, Col ${col}`,
        ),
      );
      // Should the menu still come up empty, Ctrl+. is pressed again (up to three times, each
      // reported), so that a slow editor is told from a missing fix.
      let action;
      for (let attempt = 1; action === undefined; attempt++) {
        await page.keyboard.press("Escape");
        await page.keyboard.down("Control");
        await page.keyboard.press(".");
        await page.keyboard.up("Control");
        try {
          action = await elementWithText(
            `the quick fix "${oom201.fix.message}" in the code action menu`,
            ".action-widget .monaco-list-row",
            oom201.fix.message,
            attempt < 3 ? 5_000 : T_UI,
          );
        } catch (e) {
          if (attempt === 3) throw e;
          console.log(
            `  try ${attempt}: ${e.message.replace(/ \(last seen.*$/s, "")}; pressing Ctrl+. again`,
          );
        }
      }
      await action.click();
      await editorTextBecomes(
        "the editor text after the quick fix to equal `oomlint check --fix --select OOM201`",
        want,
      );
      return {
        detail: `line ${oom201.location.row}: ${JSON.stringify(want.split("\n")[oom201.location.row - 1].trim())}`,
      };
    });

    await check("(d) Fix All gives the text of oomlint check --fix", async () => {
      await revert();
      const want = readText(path.join(EXPECTED, "fix_all.py"));
      if (want === original) throw new Error("oomlint check --fix changed nothing in train.py");
      await runCommand("oomlint: Fix All");
      await editorTextBecomes("the editor text after Fix All to equal `oomlint check --fix`", want);
      const onDisk = readText(trainPath);
      if (onDisk !== original) throw new Error("train.py was saved although files.autoSave is off");
      return {
        detail: `${original.split("\n").length} lines became ${want.split("\n").length}, unsaved on disk`,
      };
    });

    await check("(f) oomlint.targetGpu in the settings re-lints", async () => {
      await revert();
      const before = expectedTrain.map(markerKey).sort();
      const want = readJson("train_hopper.json").map(markerKey).sort();
      if (JSON.stringify(before) === JSON.stringify(want)) {
        throw new Error("--target-gpu hopper gives the same findings as the default: nothing to observe");
      }
      // As a user would: in the settings.json editor, saved with Ctrl+S. (A write to the file
      // from outside went unnoticed by code-server here: no didChangeConfiguration followed.)
      await runCommand("Preferences: Open User Settings (JSON)");
      await until("settings.json in the editor", T_UI, () =>
        page.evaluate(
          () =>
            document.querySelector(".tab.active")?.getAttribute("aria-label")?.startsWith("settings.json") ??
            false,
        ),
      );
      await until("the settings.json editor to have the focus", T_UI, () =>
        page.evaluate(
          () => document.activeElement?.closest(".editor-group-container.active .monaco-editor") != null,
        ),
      );
      await page.keyboard.down("Control");
      await page.keyboard.press("Home");
      await page.keyboard.up("Control");
      await page.keyboard.press("End");
      // Inserted as one piece of text: no auto-closing quotes, no completion.
      await page.keyboard.sendCharacter('\n  "oomlint.targetGpu": "hopper",');
      await page.keyboard.down("Control");
      await page.keyboard.press("s");
      await page.keyboard.up("Control");
      await until("settings.json to be saved with the new setting", T_UI, () => {
        try {
          return JSON.parse(readText(SETTINGS))["oomlint.targetGpu"] === "hopper";
        } catch {
          return false;
        }
      });
      await runCommand("View: Close Editor");
      await openFile("train.py");
      await showProblems();
      let got;
      try {
        await until("the Problems panel to show the findings of --target-gpu hopper", T_LINT, async () => {
          got = await panelKeys("train.py");
          return JSON.stringify(got) === JSON.stringify(want);
        });
      } catch (e) {
        throw new Error(
          `${e.message}\n  want: ${JSON.stringify(want, null, 1)}\n  got: ${JSON.stringify(got, null, 1)}`,
        );
      }
      const gone = before.filter((k) => !want.includes(k));
      return {
        detail: `now ${want.filter((k) => !before.includes(k)).join("; ") || "-"} (was ${gone.join("; ")})`,
      };
    });

    await check("(e) a notebook gets its cross-cell finding", async () => {
      const caps = await serverCapabilities();
      const nbsync = caps.notebookDocumentSync !== undefined && caps.notebookDocumentSync !== null;
      const wantAll = readJson("notebook.json");
      const crossCell = wantAll.find((d) => d.code === "OOM201");
      const local = wantAll.find((d) => d.code === "OOM203");
      // A cell's finding is at its line and column in the cell; the same finding on the .ipynb
      // file itself (workspace diagnostics) is at a line of the JSON text, so the two differ.
      const cellKey = (d) => `${d.code} [Ln ${d.location.row}, Col ${d.location.column}] ${d.message}`;
      const notebookRows = async () =>
        ((await problems()) ?? [])
          .filter((r) => r.resource?.startsWith("cross_cell.ipynb"))
          .map((r) => `${r.code.trim()} ${r.pos.trim()} ${r.message.trim()}`);
      await openFile("cross_cell.ipynb");
      await until("the notebook's cells to be shown", T_UI, () =>
        page.evaluate(
          () => document.querySelectorAll(".notebook-editor .cell-list-container .monaco-editor").length >= 3,
        ),
      );
      await showProblems();
      // A finding inside one cell shows either way: once it is there the server has seen the cells.
      await until(
        `the notebook's one-cell finding ${cellKey(local)} in the Problems panel`,
        T_START,
        async () => (await notebookRows()).includes(cellKey(local)),
      );
      const has201 = async () => (await notebookRows()).includes(cellKey(crossCell));
      if (nbsync) {
        await until(`the cross-cell finding ${cellKey(crossCell)} in the Problems panel`, T_LINT, has201);
        return { detail: `OOM201 in cell ${crossCell.cell}, with OOM203 in cell ${local.cell}` };
      }
      if (await has201()) {
        throw new Error(
          `the cross-cell ${cellKey(crossCell)} shows although the server does not advertise notebookDocumentSync: ` +
            JSON.stringify(await notebookRows()),
        );
      }
      return {
        status: "XFAIL",
        detail:
          "the server does not advertise notebookDocumentSync (issue 21, item 2): cells are linted one by one, so OOM201 is missing; the check turns on by itself once it does",
      };
    });

    return browser;
  } catch (e) {
    await browser.close().catch(() => {});
    throw e;
  }
}

async function revert() {
  if ((await editorText()) === original) return;
  await runCommand("File: Revert File");
  await editorTextBecomes("the editor to show train.py as on disk after File: Revert File", original, T_UI);
}

function diffLines(a, b) {
  const x = a.split("\n");
  const y = b.split("\n");
  if (x.length !== y.length) return [`${x.length} lines became ${y.length}`];
  return x.flatMap((line, i) => (line === y[i] ? [] : [i + 1]));
}

// The centre of a squiggle on line `row` of the active editor.
async function squiggle(row) {
  return until(`a squiggle on line ${row}`, T_LINT, () =>
    page.evaluate((line) => {
      const ed = document.querySelector(".editor-group-container.active .monaco-editor");
      if (ed === null) return null;
      const num = [...ed.querySelectorAll(".margin-view-overlays .line-numbers")].find(
        (n) => n.textContent.trim() === String(line),
      );
      if (num === undefined) return null;
      const r = num.getBoundingClientRect();
      const mid = r.top + r.height / 2;
      const box = [...ed.querySelectorAll(".view-overlays [class*='squiggly-']")]
        .map((s) => s.getBoundingClientRect())
        .find((b) => b.top <= mid && mid <= b.bottom && b.width > 0);
      return box ? { x: box.left + box.width / 2, y: box.top + box.height / 2 } : null;
    }, row),
  );
}

(async () => {
  let browser;
  let rc = 0;
  try {
    browser = await main();
  } catch (e) {
    console.log(`FAIL  setting up the workbench: ${e.message}`);
    if (page) await dump("setup");
    rc = 1;
  }
  if (browser) await browser.close().catch(() => {});
  const failed = results.filter((r) => r.status === "FAIL");
  console.log(`vscode_e2e: ${results.length} checks, ${failed.length} failed`);
  process.exit(rc || failed.length ? 1 : 0);
})();
