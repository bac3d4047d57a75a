// End-to-end test of `oomlint server` over stdio, driven by the vscode-languageserver-protocol
// client library: open, edit incrementally, receive diagnostics, code action, hover, pull
// diagnostics, a timing figure on a 2,000-line file, a notebook synchronised whole
// (notebookDocument/*), and a clean shutdown (exit code 0).
'use strict';

const { spawn } = require('child_process');
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const rpc = require('vscode-languageserver-protocol/node');

const binary = process.env.OOMLINT_BINARY;
if (!binary) {
  console.error('OOMLINT_BINARY is not set');
  process.exit(2);
}

// ---- a tiny text document model (JS strings are UTF-16, as LSP positions are) ----
function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\r' && text[i + 1] === '\n') i++;
    if (c === '\n' || c === '\r') starts.push(i + 1);
  }
  return starts;
}
function offsetAt(text, pos) {
  const starts = lineStarts(text);
  if (pos.line >= starts.length) return text.length;
  const start = starts[pos.line];
  let end = pos.line + 1 < starts.length ? starts[pos.line + 1] : text.length;
  while (end > start && (text[end - 1] === '\n' || text[end - 1] === '\r')) end--;
  return Math.min(start + pos.character, end);
}
function applyEdits(text, edits) {
  const sorted = edits
    .map((e) => ({ s: offsetAt(text, e.range.start), e: offsetAt(text, e.range.end), t: e.newText }))
    .sort((a, b) => b.s - a.s);
  for (const e of sorted) text = text.slice(0, e.s) + e.t + text.slice(e.e);
  return text;
}

const trainPy = [
  'import torch',
  '',
  'def train(model, loader, optimizer):',
  '    for batch in loader:',
  '        loss = model(batch).sum()',
  '        loss.backward()',
  '        optimizer.step()',
  '',
].join('\n');

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'oomlint-e2e-'));
  fs.mkdirSync(path.join(work, 'pkg'));
  fs.writeFileSync(path.join(work, 'pkg', 'closed.py'),
    trainPy + '        torch.cuda.empty_cache()\n');
  const folderUri = 'file://' + work;
  const uri = folderUri + '/train.py';

  const child = spawn(binary, ['server'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d.toString(); });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));

  const connection = rpc.createProtocolConnection(
    new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  const published = new Map();  // uri -> list of params
  const waiters = [];
  connection.onNotification(rpc.PublishDiagnosticsNotification.type, (params) => {
    if (!published.has(params.uri)) published.set(params.uri, []);
    published.get(params.uri).push(params);
    for (const w of waiters.splice(0)) w();
  });
  connection.onRequest(rpc.RegistrationRequest.type, () => null);
  connection.listen();

  function waitFor(docUri, version, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        const list = published.get(docUri) || [];
        const hit = list.find((p) => p.version === version);
        if (hit) return resolve(hit);
        if (Date.now() - started > timeoutMs) {
          return reject(new Error(`no diagnostics for ${docUri} version ${version}`));
        }
        waiters.push(check);
        setTimeout(check, 50);
      };
      check();
    });
  }

  const checks = [];
  const ok = (what) => { checks.push(what); };

  const init = await connection.sendRequest(rpc.InitializeRequest.type, {
    processId: process.pid,
    rootUri: folderUri,
    workspaceFolders: [{ uri: folderUri, name: 'e2e' }],
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      workspace: { workspaceEdit: { documentChanges: true },
        didChangeWatchedFiles: { dynamicRegistration: true } },
      textDocument: { publishDiagnostics: { versionSupport: true } },
    },
    initializationOptions: { logLevel: 'warning' },
  });
  assert.strictEqual(init.capabilities.positionEncoding, 'utf-16');
  assert.strictEqual(init.capabilities.textDocumentSync.change, 2);
  await connection.sendNotification(rpc.InitializedNotification.type, {});
  ok('initialize');

  // Open a clean loop: no diagnostics.
  let text = trainPy;
  let version = 1;
  await connection.sendNotification(rpc.DidOpenTextDocumentNotification.type,
    { textDocument: { uri, languageId: 'python', version, text } });
  let p = await waitFor(uri, 1);
  assert.strictEqual(p.diagnostics.length, 0);
  ok('didOpen -> publishDiagnostics (clean)');

  // Type an empty_cache() call at the end of the loop body, in two incremental edits.
  const line = 7;
  const edits = [
    { range: { start: { line, character: 0 }, end: { line, character: 0 } }, text: '        torch.cuda.' },
    { range: { start: { line, character: 19 }, end: { line, character: 19 } }, text: 'empty_cache()\n' },
  ];
  for (const e of edits) {
    version++;
    text = applyEdits(text, [{ range: e.range, newText: e.text }]);
    await connection.sendNotification(rpc.DidChangeTextDocumentNotification.type,
      { textDocument: { uri, version }, contentChanges: [e] });
  }
  p = await waitFor(uri, version);
  assert.strictEqual(p.diagnostics.length, 1, JSON.stringify(p));
  const diag = p.diagnostics[0];
  assert.strictEqual(diag.code, 'OOM203');
  assert.strictEqual(diag.source, 'oomlint');
  assert.ok(diag.codeDescription.href.includes('OOM203'));
  assert.deepStrictEqual(diag.range.start, { line: 7, character: 8 });
  ok('incremental didChange -> OOM203 at 8:9');

  // Hover on it: the rule's page.
  const hover = await connection.sendRequest(rpc.HoverRequest.type,
    { textDocument: { uri }, position: { line: 7, character: 20 } });
  assert.ok(hover && hover.contents.kind === 'markdown' && hover.contents.value.includes('OOM203'));
  ok('hover shows the OOM203 doc');

  // Pull diagnostics: full, then unchanged.
  const pulled = await connection.sendRequest(rpc.DocumentDiagnosticRequest.type,
    { textDocument: { uri } });
  assert.strictEqual(pulled.kind, 'full');
  assert.strictEqual(pulled.items.length, 1);
  const again = await connection.sendRequest(rpc.DocumentDiagnosticRequest.type,
    { textDocument: { uri }, previousResultId: pulled.resultId });
  assert.strictEqual(again.kind, 'unchanged');
  ok('pull diagnostics full then unchanged');

  // Workspace diagnostics include the closed file.
  const ws = await connection.sendRequest(rpc.WorkspaceDiagnosticRequest.type,
    { previousResultIds: [] });
  const closed = ws.items.find((i) => i.uri.endsWith('/pkg/closed.py'));
  assert.ok(closed && closed.items.length === 1, JSON.stringify(ws));
  ok('workspace diagnostics cover a closed file');

  // Code actions: the fix and "ignore on this line"; apply the ignore edit.
  const actions = await connection.sendRequest(rpc.CodeActionRequest.type, {
    textDocument: { uri }, range: diag.range, context: { diagnostics: [diag] },
  });
  const fix = actions.find((a) => a.kind === 'quickfix' && a.title.startsWith('Remove'));
  assert.ok(fix, JSON.stringify(actions));
  const fixed = applyEdits(text, fix.edit.documentChanges[0].edits);
  assert.ok(!fixed.includes('empty_cache'));
  const ignore = actions.find((a) => a.title === 'Ignore OOM203 on this line');
  assert.ok(ignore);
  const change = ignore.edit.documentChanges[0];
  assert.strictEqual(change.textDocument.version, version);
  version++;
  text = applyEdits(text, change.edits);
  assert.ok(text.includes('torch.cuda.empty_cache()  # noqa: OOM203'));
  await connection.sendNotification(rpc.DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version },
    contentChanges: change.edits.map((e) => ({ range: e.range, text: e.newText })),
  });
  p = await waitFor(uri, version);
  assert.strictEqual(p.diagnostics.length, 0);
  ok('code action applied -> diagnostics cleared');

  // Timing: one edit on a 2,000-line file until its diagnostics arrive.
  const bigUri = folderUri + '/big.py';
  const block = [];
  for (let i = 0; i < 250; i++) {
    block.push(`def train_${i}(model, loader, optimizer):`, '    for batch in loader:',
      '        loss = model(batch).sum()', '        loss.backward()', '        optimizer.step()',
      '        torch.cuda.empty_cache()', '', '');
  }
  const big = 'import torch\n' + block.join('\n');
  await connection.sendNotification(rpc.DidOpenTextDocumentNotification.type,
    { textDocument: { uri: bigUri, languageId: 'python', version: 1, text: big } });
  await waitFor(bigUri, 1);
  const times = [];
  for (let v = 2; v <= 11; v++) {
    const t0 = process.hrtime.bigint();
    await connection.sendNotification(rpc.DidChangeTextDocumentNotification.type, {
      textDocument: { uri: bigUri, version: v },
      contentChanges: [{ range: { start: { line: 3, character: 8 }, end: { line: 3, character: 12 } },
        text: v % 2 ? 'loss' : 'lozz' }],
    });
    const r = await waitFor(bigUri, v);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    assert.strictEqual(r.diagnostics.length, 250);
  }
  times.sort((a, b) => a - b);
  ok(`2,000-line file: didChange -> publishDiagnostics median ${times[5].toFixed(1)} ms ` +
     `(max ${times[9].toFixed(1)} ms, server debounce included)`);

  // A notebook, synchronised whole (notebookDocument/*): the import in the first code cell counts
  // for the loop two cells further down, whose finding lands in that cell.
  assert.ok(init.capabilities.notebookDocumentSync, 'the server synchronises notebooks');
  const nbUri = folderUri + '/train.ipynb';
  const cell = (n) => `vscode-notebook-cell:${work}/train.ipynb#C${n}`;
  const loopText = 'for batch in loader:\n    model(batch).sum().backward()\n' +
    '    torch.cuda.empty_cache()\n';
  await connection.sendNotification(rpc.DidOpenNotebookDocumentNotification.type, {
    notebookDocument: {
      uri: nbUri, notebookType: 'jupyter-notebook', version: 1,
      cells: [{ kind: rpc.NotebookCellKind.Code, document: cell(1) },
        { kind: rpc.NotebookCellKind.Markup, document: cell(2) },
        { kind: rpc.NotebookCellKind.Code, document: cell(3) }],
    },
    cellTextDocuments: [
      { uri: cell(1), languageId: 'python', version: 1, text: 'import torch\n' },
      { uri: cell(2), languageId: 'markdown', version: 1, text: '# Training\n' },
      { uri: cell(3), languageId: 'python', version: 1, text: loopText }],
  });
  p = await waitFor(cell(3), 1);
  assert.deepStrictEqual(p.diagnostics.map((d) => d.code), ['OOM203']);
  assert.deepStrictEqual(p.diagnostics[0].range,
    { start: { line: 2, character: 4 }, end: { line: 2, character: 28 } });
  ok('notebookDocument/didOpen -> the cross-cell finding, in its cell');
  // Rename the import in cell 1 (an incremental cell edit): the finding in cell 3 goes.
  await connection.sendNotification(rpc.DidChangeNotebookDocumentNotification.type, {
    notebookDocument: { uri: nbUri, version: 2 },
    change: { cells: { textContent: [{ document: { uri: cell(1), version: 2 },
      changes: [{ range: { start: { line: 0, character: 7 }, end: { line: 0, character: 12 } },
        text: 'numpy' }] }] } },
  });
  await waitFor(cell(1), 2);
  // Published after cell 1's, in the same pass; it may still be in the pipe.
  for (let i = 0; i < 100 && published.get(cell(3)).slice(-1)[0].diagnostics.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.strictEqual(published.get(cell(3)).slice(-1)[0].diagnostics.length, 0);
  ok('notebookDocument/didChange (cell text) -> the finding of another cell goes');
  await connection.sendNotification(rpc.DidCloseNotebookDocumentNotification.type, {
    notebookDocument: { uri: nbUri },
    cellTextDocuments: [{ uri: cell(1) }, { uri: cell(2) }, { uri: cell(3) }],
  });

  // Shut down cleanly.
  await connection.sendRequest(rpc.ShutdownRequest.type);
  await connection.sendNotification(rpc.ExitNotification.type);
  const code = await exited;
  assert.strictEqual(code, 0, 'exit code after shutdown + exit: ' + code + '\n' + stderr);
  ok('shutdown + exit -> exit code 0');
  connection.dispose();
  fs.rmSync(work, { recursive: true, force: true });
  for (const c of checks) console.log('ok   ' + c);
  console.log(`${checks.length} passed, 0 failed`);
}

const timer = setTimeout(() => {
  console.error('e2e: timed out');
  process.exit(1);
}, 120000);
main().then(() => clearTimeout(timer)).catch((e) => {
  console.error('e2e FAILED: ' + (e && e.stack ? e.stack : e));
  console.log('0 passed, 1 failed');
  process.exit(1);
});
