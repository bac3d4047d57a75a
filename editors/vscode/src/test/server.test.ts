// The extension's settings against the real `oomlint server`, over the same JSON-RPC library the
// extension uses (vscode-languageclient's protocol layer, which needs no VS Code). Run with
// OOMLINT_BINARY set to the executable; tests/integration/vscode_extension.sh does that.

import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import {
  CodeAction,
  CodeActionKind,
  CodeActionRequest,
  DidChangeConfigurationNotification,
  DidOpenTextDocumentNotification,
  Diagnostic,
  DocumentDiagnosticRequest,
  FullDocumentDiagnosticReport,
  ExitNotification,
  InitializeRequest,
  InitializedNotification,
  MessageConnection,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  TextEdit,
  WorkspaceEdit,
  createMessageConnection,
} from "vscode-languageserver-protocol/node";

import {
  RestartPolicy,
  didChangeConfigurationSettings,
  initializationOptions,
  normalizeSettings,
  serverCommand,
} from "../settings";

const binary = process.env.OOMLINT_BINARY;
if (binary === undefined || binary === "") {
  throw new Error("OOMLINT_BINARY must name the oomlint executable");
}

const SOURCE = [
  "import torch",
  "",
  "",
  "def train(model, loader, optimizer):",
  "    for batch in loader:",
  "        loss = model(batch).sum()",
  "        loss.backward()",
  "        optimizer.step()",
  "        torch.cuda.empty_cache()",
  "",
].join("\n");
const URI = pathToFileURL(path.join(process.cwd(), "train_demo.py")).toString();

interface Session {
  proc: ChildProcess;
  conn: MessageConnection;
  stderr: string[];
  pushed: number;
}

// Starts the server the way the extension does: same command line, same initializationOptions,
// and a client that pulls diagnostics like vscode-languageclient.
async function startServer(raw: Record<string, unknown>): Promise<Session> {
  const { settings } = normalizeSettings(raw);
  const cmd = serverCommand(binary as string, settings);
  const proc = spawn(cmd.command, cmd.args, { stdio: ["pipe", "pipe", "pipe"] });
  const stderr: string[] = [];
  proc.stderr!.on("data", (b: Buffer) => stderr.push(b.toString()));
  const conn = createMessageConnection(
    new StreamMessageReader(proc.stdout!),
    new StreamMessageWriter(proc.stdin!),
  );
  const session: Session = { proc, conn, stderr, pushed: 0 };
  conn.onNotification(PublishDiagnosticsNotification.type, (p) => {
    if (p.diagnostics.length > 0) session.pushed++;
  });
  conn.listen();
  // A server that dies (or is not a language server at all) fails the test with its stderr.
  const died = new Promise<never>((_, reject) => {
    proc.on("exit", (code) =>
      reject(new Error(`oomlint server exited with ${code} during initialize: ${stderr.join("")}`)),
    );
    proc.on("error", (e) => reject(new Error(`cannot run ${cmd.command}: ${e.message}`)));
  });
  died.catch(() => undefined);
  const initialize = conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: pathToFileURL(process.cwd()).toString(),
    capabilities: {
      textDocument: {
        publishDiagnostics: { versionSupport: true },
        diagnostic: { dynamicRegistration: false, relatedDocumentSupport: false },
      },
      workspace: { configuration: false, didChangeConfiguration: { dynamicRegistration: false } },
    },
    initializationOptions: initializationOptions(settings),
    workspaceFolders: null,
  });
  initialize.catch(() => undefined);
  let init;
  try {
    init = await Promise.race([initialize, died]);
  } catch (e) {
    // Let the exit and the last stderr bytes arrive before reporting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    throw new Error(`initialize failed: ${String(e)}\nserver stderr: ${stderr.join("")}`);
  }
  assert.equal(init.serverInfo?.name, "oomlint");
  assert.ok(init.capabilities.diagnosticProvider, "the server offers pull diagnostics");
  await conn.sendNotification(InitializedNotification.type, {});
  return session;
}

async function stopServer(s: Session): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => s.proc.on("exit", (code) => resolve(code)));
  await s.conn.sendRequest(ShutdownRequest.type);
  await s.conn.sendNotification(ExitNotification.type);
  const code = await exited;
  s.conn.dispose();
  return code;
}

async function open(s: Session): Promise<void> {
  await s.conn.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri: URI, languageId: "python", version: 1, text: SOURCE },
  });
}

async function pull(s: Session): Promise<Diagnostic[]> {
  const report = await s.conn.sendRequest(DocumentDiagnosticRequest.type, {
    textDocument: { uri: URI },
  });
  assert.equal(report.kind, "full", JSON.stringify(report));
  return (report as FullDocumentDiagnosticReport).items;
}

function editsFromDocumentChanges(edit: WorkspaceEdit, uri: string): TextEdit[] {
  const out: TextEdit[] = [];
  for (const change of edit.documentChanges ?? []) {
    if ("textDocument" in change && change.textDocument.uri === uri) {
      for (const e of change.edits) out.push(e as TextEdit);
    }
  }
  return out;
}

// Applies LSP text edits to ASCII text (so UTF-16 columns are byte columns).
function applyEdits(text: string, edits: TextEdit[]): string {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  const offset = (p: { line: number; character: number }) =>
    p.line < starts.length ? starts[p.line] + p.character : text.length;
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  let out = text;
  for (const e of sorted) {
    out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  }
  return out;
}

function codes(items: Diagnostic[]): string[] {
  return items.map((d) => String(d.code)).sort();
}

describe("extension settings against the real server", () => {
  let plain: Session;
  before(async () => {
    plain = await startServer({});
  });
  after(async () => {
    if (plain === undefined) return;
    // pushDiagnostics: false in initializationOptions, so VS Code does not show them twice.
    assert.equal(plain.pushed, 0, "the server pushed diagnostics as well");
    assert.equal(await stopServer(plain), 0);
  });

  it("reports OOM203 with its position and rule link when no setting is given", async () => {
    await open(plain);
    const items = await pull(plain);
    const d = items.find((x) => x.code === "OOM203");
    assert.ok(d, `OOM203 missing from ${JSON.stringify(items)}`);
    assert.deepEqual(d.range.start, { line: 8, character: 8 });
    assert.equal(d.source, "oomlint");
    // By default a page on this machine: the installed docs or the source tree's docs/.
    assert.match(d.codeDescription?.href ?? "", /^file:\/\/.*\/rules\/OOM203\.md$/);
  });

  it("offers a quick fix for OOM203 whose edit removes the call", async () => {
    const d = (await pull(plain)).find((x) => x.code === "OOM203");
    assert.ok(d);
    // What VS Code sends for the light bulb: the range and the diagnostics under the cursor.
    const actions =
      (await plain.conn.sendRequest(CodeActionRequest.type, {
        textDocument: { uri: URI },
        range: d.range,
        context: { diagnostics: [d], only: [CodeActionKind.QuickFix], triggerKind: 1 },
      })) ?? [];
    const fix = actions.find(
      (a): a is CodeAction => "kind" in a && a.kind === "quickfix" && /empty_cache/.test(a.title),
    );
    assert.ok(fix?.edit, `no quick fix among ${JSON.stringify(actions.map((a) => a.title))}`);
    const edits = fix.edit.changes?.[URI] ?? editsFromDocumentChanges(fix.edit, URI);
    const lines = SOURCE.split("\n");
    lines.splice(8, 1);
    assert.equal(applyEdits(SOURCE, edits), lines.join("\n"));
  });

  it("drops OOM203 after oomlint.ignore changes (workspace/didChangeConfiguration)", async () => {
    const { settings } = normalizeSettings({ ignore: ["oom203"] });
    await plain.conn.sendNotification(DidChangeConfigurationNotification.type, {
      settings: didChangeConfigurationSettings(settings),
    });
    assert.deepEqual(codes(await pull(plain)).filter((c) => c === "OOM203"), []);
  });

  it("brings OOM203 back when the setting is cleared again", async () => {
    const { settings } = normalizeSettings({});
    await plain.conn.sendNotification(DidChangeConfigurationNotification.type, {
      settings: didChangeConfigurationSettings(settings),
    });
    const items = await pull(plain);
    assert.ok(codes(items).includes("OOM203"), JSON.stringify(items));
  });
});

describe("initializationOptions", () => {
  it("oomlint.ignore given at start-up silences the rule", async () => {
    const s = await startServer({ ignore: ["OOM203"] });
    try {
      await open(s);
      assert.deepEqual(codes(await pull(s)).filter((c) => c === "OOM203"), []);
    } finally {
      assert.equal(await stopServer(s), 0);
    }
  });

  it("Fix All: the source.fixAll.oomlint action applies the safe fix", async () => {
    const s = await startServer({ select: ["OOM111"] });
    try {
      const uri = pathToFileURL(path.join(process.cwd(), "model_demo.py")).toString();
      const text = [
        "from transformers import AutoModelForCausalLM",
        "",
        'model = AutoModelForCausalLM.from_pretrained("gpt2", attn_implementation="eager")',
        "",
      ].join("\n");
      await s.conn.sendNotification(DidOpenTextDocumentNotification.type, {
        textDocument: { uri, languageId: "python", version: 1, text },
      });
      // What the "oomlint: Fix All" command asks for: the whole document, only this kind.
      const actions =
        (await s.conn.sendRequest(CodeActionRequest.type, {
          textDocument: { uri },
          range: { start: { line: 0, character: 0 }, end: { line: 4, character: 0 } },
          context: { diagnostics: [], only: ["source.fixAll.oomlint"], triggerKind: 1 },
        })) ?? [];
      const fixAll = actions.filter(
        (a): a is CodeAction => "kind" in a && a.kind === "source.fixAll.oomlint",
      );
      assert.equal(fixAll.length, 1, JSON.stringify(actions));
      const edit = fixAll[0].edit;
      assert.ok(edit);
      const edits = edit.changes?.[uri] ?? editsFromDocumentChanges(edit, uri);
      assert.equal(applyEdits(text, edits), text.replace('"eager"', '"sdpa"'));
    } finally {
      assert.equal(await stopServer(s), 0);
    }
  });

  it("oomlint.docsUrl points the rule link at a hosted copy", async () => {
    const s = await startServer({ docsUrl: "https://example.org/oomlint/docs" });
    try {
      await open(s);
      const d = (await pull(s)).find((x) => x.code === "OOM203");
      assert.equal(d?.codeDescription?.href, "https://example.org/oomlint/docs/rules/OOM203.md");
    } finally {
      assert.equal(await stopServer(s), 0);
    }
  });

  it("oomlint.select of another rule leaves OOM203 out", async () => {
    const s = await startServer({ select: ["OOM11"], targetGpu: "volta" });
    try {
      await open(s);
      assert.deepEqual(codes(await pull(s)).filter((c) => !c.startsWith("OOM11")), []);
    } finally {
      assert.equal(await stopServer(s), 0);
    }
  });
});

describe("a server that dies", () => {
  it("kill -9: RestartPolicy restarts it, the re-opened document gets its diagnostics back", async () => {
    const policy = new RestartPolicy();
    const first = await startServer({});
    await open(first);
    const before = codes(await pull(first));
    assert.ok(before.includes("OOM203"), JSON.stringify(before));
    const exited = new Promise<void>((resolve) => first.proc.on("exit", () => resolve()));
    first.proc.kill("SIGKILL");
    await exited;
    first.conn.dispose();
    // What the extension's errorHandler.closed() decides, then what vscode-languageclient does
    // on CloseAction.Restart: the same command line, and didOpen of every open document with
    // its current text.
    const decision = policy.onServerExit(Date.now());
    assert.equal(decision.restart, true, decision.message);
    const second = await startServer({});
    try {
      await open(second);
      assert.deepEqual(codes(await pull(second)), before);
    } finally {
      assert.equal(await stopServer(second), 0);
    }
  });
});
