// Load test of the real `oomlint server` (worker threads, debounce): 20 open documents get 5,000
// incremental edits with requests (codeAction, hover, inlayHint, pull diagnostics) interleaved and
// many of them cancelled while pending. At the end the last published diagnostics of every
// document must equal a fresh `oomlint check` of its final text, every request must have been
// answered (a result or RequestCancelled), and the server's resident memory at the end must stay
// within a bound of what it was after a warm-up. Plain Node, no packages.
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const binary = process.env.OOMLINT_BINARY;
if (!binary) {
  console.error('OOMLINT_BINARY is not set');
  process.exit(2);
}
const DOCS = Number(process.env.OOMLINT_LOAD_DOCS || 20);
const EDITS = Number(process.env.OOMLINT_LOAD_EDITS || 5000);
const WARMUP_EDITS = Math.floor(EDITS / 5);
const RSS_SLACK_KB = 20 * 1024;

function fail(message) {
  console.error('FAIL: ' + message);
  process.exit(1);
}

// ---- deterministic randomness ----
let seed = 0x5eed1234;
function rand() {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n) => Math.floor(rand() * n);

// ---- a text model (ASCII only, "\n" lines: UTF-16 columns are byte columns) ----
function lines(text) {
  return text.split('\n');
}
function offsetAt(text, line, ch) {
  const ls = lines(text);
  let off = 0;
  for (let i = 0; i < line && i < ls.length; i++) off += ls[i].length + 1;
  if (line >= ls.length) return text.length;
  return off + Math.min(ch, ls[line].length);
}

// ---- JSON-RPC over the child's stdio ----
const child = spawn(binary, ['server'], { stdio: ['pipe', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', (d) => {
  stderr += d.toString();
  if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
});
const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));

let inbuf = Buffer.alloc(0);
const pending = new Map(); // id -> {resolve}
const published = new Map(); // uri -> last params
const publishWaiters = [];
let responses = 0;
let cancelledResponses = 0;
let otherErrors = [];
child.stdout.on('data', (chunk) => {
  inbuf = Buffer.concat([inbuf, chunk]);
  for (;;) {
    const sep = inbuf.indexOf('\r\n\r\n');
    if (sep < 0) return;
    const header = inbuf.slice(0, sep).toString();
    const m = /Content-Length: *(\d+)/i.exec(header);
    if (!m) fail('bad header from the server: ' + header);
    const len = Number(m[1]);
    if (inbuf.length < sep + 4 + len) return;
    const msg = JSON.parse(inbuf.slice(sep + 4, sep + 4 + len).toString());
    inbuf = inbuf.slice(sep + 4 + len);
    onMessage(msg);
  }
});
function onMessage(msg) {
  if (msg.method === 'textDocument/publishDiagnostics') {
    published.set(msg.params.uri, msg.params);
    for (const w of publishWaiters.splice(0)) w();
    return;
  }
  if (msg.method !== undefined) {
    if (msg.id !== undefined) send({ jsonrpc: '2.0', id: msg.id, result: null });
    return;
  }
  const p = pending.get(msg.id);
  if (!p) {
    otherErrors.push('reply to an unknown id: ' + JSON.stringify(msg).slice(0, 200));
    return;
  }
  pending.delete(msg.id);
  responses++;
  if (msg.error) {
    if (msg.error.code === -32800) cancelledResponses++;
    else otherErrors.push(`${p.method}: ${JSON.stringify(msg.error)}`);
  }
  p.resolve(msg);
}
function send(obj) {
  const body = Buffer.from(JSON.stringify(obj), 'utf8');
  child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  child.stdin.write(body);
}
let nextId = 1;
function request(method, params) {
  const id = nextId++;
  const promise = new Promise((resolve) => pending.set(id, { resolve, method }));
  send({ jsonrpc: '2.0', id, method, params });
  return { id, promise };
}
function notify(method, params) {
  send({ jsonrpc: '2.0', method, params });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKb() {
  const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : NaN;
}

// ---- documents ----
function initialText(i) {
  const out = ['import torch', ''];
  for (let f = 0; f < 3; f++) {
    out.push(`def train_${i}_${f}(model, loader, optimizer):`);
    out.push('    for batch in loader:');
    out.push('        loss = model(batch).sum()');
    out.push('        loss.backward()');
    if ((i + f) % 2 === 0) out.push('        torch.cuda.empty_cache()');
    out.push('        optimizer.step()');
    out.push('');
  }
  return out.join('\n') + '\n';
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'oomlint-load-'));
const docs = [];
for (let i = 0; i < DOCS; i++) {
  docs.push({ uri: `file://${work}/doc${i}.py`, text: initialText(i), version: 1 });
}

// One random incremental edit of a document, as an LSP content change (applied to the model).
const snippets = [
  '        torch.cuda.empty_cache()\n',
  '        torch.cuda.empty_cache()\n',
  '        total += loss\n',
  '        outputs.append(model(batch))\n',
  '        # note\n',
  '        with torch.no_grad():\n            model(batch)\n',
];
// Lines an edit may touch: simple statements of loop bodies (8 spaces in, no block header).
// The import and the function, loop and `with` headers stay, so findings keep coming and going.
function editable(ls) {
  const out = [];
  for (let i = 0; i < ls.length; i++) {
    if (/^        [^ ]/.test(ls[i]) && !ls[i].trimEnd().endsWith(':')) out.push(i);
  }
  return out;
}
function randomChange(doc) {
  const ls = lines(doc.text);
  const body = editable(ls);
  const kind = pick(10);
  let range;
  let text;
  if (kind < 4 || body.length < 2) {
    // Insert a whole line (often a finding) before a body line.
    const line = body.length ? body[pick(body.length)] : ls.length - 1;
    range = { start: { line, character: 0 }, end: { line, character: 0 } };
    text = snippets[pick(snippets.length)];
  } else if (kind < 7) {
    // Delete a whole body line.
    const line = body[pick(body.length)];
    range = { start: { line, character: 0 }, end: { line: line + 1, character: 0 } };
    text = '';
  } else if (kind < 9) {
    // Type or delete a few characters inside a body line.
    const line = body[pick(body.length)];
    const ch = 8 + pick(ls[line].length - 7);
    const del = pick(3);
    range = { start: { line, character: ch }, end: { line, character: ch + del } };
    text = ['', 'x', '_', ' ', '()', 'torch.'][pick(6)];
  } else {
    // Replace a span across two neighbouring body lines.
    const i = pick(body.length - 1);
    const a = body[i];
    const b = body[i + 1];
    range = {
      start: { line: a, character: 8 + pick(ls[a].length - 7) },
      end: { line: b, character: 8 + pick(ls[b].length - 7) },
    };
    text = snippets[pick(snippets.length)].trimStart() + '        '; // line b keeps its indent
  }
  const s = offsetAt(doc.text, range.start.line, range.start.character);
  const e = Math.max(s, offsetAt(doc.text, range.end.line, range.end.character));
  doc.text = doc.text.slice(0, s) + text + doc.text.slice(e);
  return { range, text };
}

function randomRequest(doc) {
  const td = { uri: doc.uri };
  const ls = lines(doc.text);
  const line = pick(ls.length);
  const pos = { line, character: pick(ls[line].length + 1) };
  switch (pick(4)) {
    case 0:
      return request('textDocument/codeAction', {
        textDocument: td, range: { start: pos, end: pos }, context: { diagnostics: [] },
      });
    case 1:
      return request('textDocument/hover', { textDocument: td, position: pos });
    case 2:
      return request('textDocument/inlayHint', {
        textDocument: td, range: { start: { line: 0, character: 0 }, end: { line: ls.length, character: 0 } },
      });
    default:
      return request('textDocument/diagnostic', { textDocument: td });
  }
}

async function waitForVersions() {
  const deadline = Date.now() + 60000;
  for (;;) {
    const missing = docs.filter((d) => {
      const p = published.get(d.uri);
      return !p || p.version !== d.version;
    });
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      fail(`no diagnostics for the final version of ${missing.length} documents, e.g. ${missing[0].uri} v${missing[0].version} (last: v${(published.get(missing[0].uri) || {}).version})`);
    }
    await new Promise((resolve) => {
      publishWaiters.push(resolve);
      setTimeout(resolve, 200);
    });
  }
}

function key(code, l1, c1, l2, c2) {
  return `${code}@${l1}:${c1}-${l2}:${c2}`;
}

async function main() {
  const started = Date.now();
  const init = request('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  await init.promise;
  notify('initialized', {});
  for (const d of docs) {
    notify('textDocument/didOpen', {
      textDocument: { uri: d.uri, languageId: 'python', version: d.version, text: d.text },
    });
  }

  const requests = [];
  let cancelsSent = 0;
  let rssWarm = NaN;
  let lastRequest = null;
  for (let n = 1; n <= EDITS; n++) {
    const doc = docs[pick(docs.length)];
    const change = randomChange(doc);
    doc.version++;
    notify('textDocument/didChange', {
      textDocument: { uri: doc.uri, version: doc.version }, contentChanges: [change],
    });
    if (n % 3 === 0) {
      const r = randomRequest(docs[pick(docs.length)]);
      requests.push(r);
      // Cancel most requests: at once, or after the next edit while it may be running.
      if (lastRequest && rand() < 0.7) {
        notify('$/cancelRequest', { id: lastRequest.id });
        cancelsSent++;
      }
      lastRequest = r;
      if (rand() < 0.4) {
        notify('$/cancelRequest', { id: r.id });
        cancelsSent++;
        lastRequest = null;
      }
    }
    if (n % 25 === 0) await sleep(pick(70)); // pauses longer and shorter than the debounce
    if (n === WARMUP_EDITS) {
      await waitForVersions();
      await Promise.all(requests.map((r) => r.promise));
      await sleep(200);
      rssWarm = rssKb();
    }
  }
  await waitForVersions();
  const answered = await Promise.race([
    Promise.all(requests.map((r) => r.promise)).then(() => true),
    sleep(60000).then(() => false),
  ]);
  if (!answered) fail(`${pending.size} requests never answered`);
  await sleep(300);
  const rssEnd = rssKb();
  const seconds = (Date.now() - started) / 1000;

  // Pull diagnostics of every document: must agree with the push.
  for (const d of docs) {
    const r = request('textDocument/diagnostic', { textDocument: { uri: d.uri } });
    const reply = await r.promise;
    if (!reply.result || reply.result.kind !== 'full') fail(`pull for ${d.uri}: ${JSON.stringify(reply).slice(0, 300)}`);
    const push = published.get(d.uri).diagnostics.map((x) => key(x.code, x.range.start.line, x.range.start.character, x.range.end.line, x.range.end.character)).sort();
    const pull = reply.result.items.map((x) => key(x.code, x.range.start.line, x.range.start.character, x.range.end.line, x.range.end.character)).sort();
    if (JSON.stringify(push) !== JSON.stringify(pull)) fail(`push and pull differ for ${d.uri}`);
  }

  // A fresh check of the final texts by the command line.
  for (let i = 0; i < docs.length; i++) fs.writeFileSync(path.join(work, `doc${i}.py`), docs[i].text);
  const cli = spawnSync(binary, ['check', '--isolated', '--output-format', 'json', '--exit-zero', '.'], {
    cwd: work, encoding: 'utf8', maxBuffer: 64 << 20,
  });
  if (cli.status !== 0) fail(`oomlint check exited ${cli.status}: ${cli.stderr}`);
  const fresh = new Map(docs.map((d) => [d.uri, []]));
  for (const f of JSON.parse(cli.stdout)) {
    const uri = `file://${work}/${path.basename(f.filename)}`;
    fresh.get(uri).push(key(f.code, f.location.row - 1, f.location.column - 1,
      f.end_location.row - 1, f.end_location.column - 1));
  }
  let total = 0;
  let withFindings = 0;
  for (const d of docs) {
    const got = published.get(d.uri).diagnostics.map((x) => key(x.code, x.range.start.line, x.range.start.character, x.range.end.line, x.range.end.character)).sort();
    const want = fresh.get(d.uri).sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      fail(`final diagnostics of ${d.uri} (v${d.version}) differ from a fresh check:\n  server: ${got.join(' ')}\n  check:  ${want.join(' ')}`);
    }
    total += got.length;
    if (got.length) withFindings++;
  }

  const shutdown = request('shutdown', null);
  await shutdown.promise;
  notify('exit', null);
  const { code, sig } = await exited;
  if (code !== 0) fail(`server exit code ${code} (signal ${sig}); stderr tail: ${stderr.slice(-2000)}`);
  if (otherErrors.length) fail(`unexpected errors: ${otherErrors.slice(0, 5).join('; ')}`);

  const edits = docs.reduce((n, d) => n + d.version - 1, 0);
  console.log(`ok   ${edits} incremental edits to ${docs.length} documents in ${seconds.toFixed(1)}s`);
  console.log(`ok   ${requests.length} requests interleaved, ${cancelsSent} cancellations sent, ${cancelledResponses} answered RequestCancelled, every request answered`);
  console.log(`ok   final diagnostics equal a fresh \`oomlint check\` of the final texts (${total} diagnostics in ${withFindings} documents), and push equals pull`);
  console.log(`ok   VmRSS after warm-up (${WARMUP_EDITS} edits): ${(rssWarm / 1024).toFixed(1)} MB; at the end: ${(rssEnd / 1024).toFixed(1)} MB (bound: warm-up + ${RSS_SLACK_KB / 1024} MB)`);
  if (!(rssEnd <= rssWarm + RSS_SLACK_KB)) fail(`memory grew from ${rssWarm} kB to ${rssEnd} kB`);
  if (cancelledResponses === 0) fail('no request was cancelled: the cancellations were not exercised');
  if (total === 0) fail('no diagnostics at all at the end: the comparison proved nothing');
  if (process.env.OOMLINT_LOAD_KEEP) console.log(`     (final texts kept in ${work})`);
  else fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  try { child.kill('SIGKILL'); } catch (_) { /* gone */ }
  process.exit(1);
});
