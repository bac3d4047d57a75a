#!/usr/bin/env python3
"""The language server while it indexes a workspace: hover and edit latency, peak RSS, indexing time.

    bench/lsp_index.py --oomlint BUILD/server/oomlint --corpus DIR [--open REL] [--json FILE]

Copies DIR to a temporary folder (the corpus is never modified), puts a pyproject.toml at the
folder that holds the `torch` package when there is none (so `import torch.nn` resolves to the
project, as in a checkout), starts `oomlint server`, opens the copy as the workspace and one file
in it, and while the background indexing runs sends a hover every --interval ms (one at a time,
as a pointer moving over the file does) and, every --edit-every hovers, an edit whose diagnostics
it waits for. Reports the median and greatest hover latency during the indexing, the edit ->
publishDiagnostics latency (the server's 50 ms debounce included), the indexing time (from
`initialized` to the $/progress end) and the server's peak RSS (VmHWM of /proc/PID/status).
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time


class Client:
    def __init__(self, argv):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.lock = threading.Condition()
        self.responses = {}  # id -> (message, time received)
        self.progress = []  # (time, value) of $/progress for the index token
        self.published = []  # (time, params) of publishDiagnostics
        self.log = []
        self.next_id = 1
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.log.append(line.decode("utf-8", "replace").rstrip())

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self.lock:
                        self.lock.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = out.read(length)
            now = time.monotonic()
            msg = json.loads(body)
            with self.lock:
                if "method" in msg and "id" in msg:  # a request of the server: accept it
                    self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                elif "id" in msg:
                    self.responses[msg["id"]] = (msg, now)
                elif msg.get("method") == "$/progress":
                    self.progress.append((now, msg["params"]))
                elif msg.get("method") == "textDocument/publishDiagnostics":
                    self.published.append((now, msg["params"]))
                self.lock.notify_all()

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method, params, timeout=120):
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            sent = time.monotonic()
            self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            if not self.lock.wait_for(lambda: rid in self.responses, timeout):
                raise SystemExit(f"lsp_index: no answer to {method} in {timeout} s")
            msg, received = self.responses.pop(rid)
        return msg, received - sent

    def notify(self, method, params):
        with self.lock:
            self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def index_end(self):
        for t, v in self.progress:
            if v.get("token") == "oomlint-index" and v["value"].get("kind") == "end":
                return t, v["value"].get("message", "")
        return None

    def wait_published(self, uri, version, timeout=60):
        with self.lock:
            ok = self.lock.wait_for(
                lambda: any(
                    p["uri"] == uri and p.get("version") == version for _, p in self.published
                ),
                timeout,
            )
            if not ok:
                return None
            return next(
                t for t, p in self.published if p["uri"] == uri and p.get("version") == version
            )


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def prepare(corpus, tmp):
    work = os.path.join(tmp, "workspace")
    shutil.copytree(corpus, work, symlinks=True)
    markers = ("pyproject.toml", "oomlint.toml", "setup.py", ".git")
    for dirpath, dirnames, _ in os.walk(work):
        if "torch" in dirnames and os.path.isfile(os.path.join(dirpath, "torch", "__init__.py")):
            if not any(os.path.exists(os.path.join(dirpath, m)) for m in markers):
                with open(os.path.join(dirpath, "pyproject.toml"), "w") as f:
                    f.write('[project]\nname = "torch-bench"\n')
            break
    return work


def find_file(work, rel):
    for dirpath, _, files in os.walk(work):
        for name in files:
            path = os.path.join(dirpath, name)
            if path.endswith(rel):
                return path
    raise SystemExit(f"lsp_index: no file ending in {rel} under the corpus")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--oomlint", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--open", default="torch/utils/data/dataloader.py")
    ap.add_argument("--interval", type=float, default=20, help="ms between hovers")
    ap.add_argument("--edit-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--no-index",
        action="store_true",
        help="turn the indexing off (indexWorkspace: false) and send --hovers hovers: the baseline",
    )
    ap.add_argument("--hovers", type=int, default=200, help="with --no-index")
    ap.add_argument("--json")
    args = ap.parse_args()
    random.seed(args.seed)

    tmp = tempfile.mkdtemp(prefix="oomlint-lsp-bench-")
    try:
        work = prepare(args.corpus, tmp)
        files = sum(
            1 for _, _, fs in os.walk(work) for f in fs if f.endswith(".py")
        )
        path = find_file(work, args.open)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.split("\n")
        uri = "file://" + path
        c = Client([args.oomlint, "server", "--stdio"])
        c.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": "file://" + work,
                "workspaceFolders": [{"uri": "file://" + work, "name": "torch"}],
                "capabilities": {"window": {"workDoneProgress": True}},
                "initializationOptions": {"indexWorkspace": not args.no_index},
            },
        )
        t0 = time.monotonic()
        c.notify("initialized", {})
        c.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        )
        version = 1
        hovers, after, edits = [], [], []
        while True:
            done = c.index_end() is not None or (args.no_index and len(hovers) >= args.hovers)
            if done and len(after) >= 20:
                break
            if c.proc.poll() is not None:
                raise SystemExit("lsp_index: the server exited")
            line = random.randrange(len(lines))
            col = random.randrange(max(1, len(lines[line]) + 1))
            _, dt = c.request(
                "textDocument/hover",
                {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}},
            )
            (after if done else hovers).append(dt * 1000)
            if args.edit_every and (len(hovers) + len(after)) % args.edit_every == 0 and not done:
                version += 1
                end = len(lines)
                sent = time.monotonic()
                c.notify(
                    "textDocument/didChange",
                    {
                        "textDocument": {"uri": uri, "version": version},
                        "contentChanges": [
                            {
                                "range": {
                                    "start": {"line": end, "character": 0},
                                    "end": {"line": end, "character": 0},
                                },
                                "text": f"# edit {version}\n",
                            }
                        ],
                    },
                )
                lines.append("")
                got = c.wait_published(uri, version)
                if got is not None:
                    edits.append((got - sent) * 1000)
            time.sleep(args.interval / 1000)
        end_time, end_message = c.index_end() or (t0, "not indexed")
        rss = peak_rss_mb(c.proc.pid)
        c.request("shutdown", None)
        c.notify("exit", None)
        c.proc.wait(timeout=30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def stats(xs):
        if not xs:
            return {"n": 0, "median_ms": None, "max_ms": None}
        return {
            "n": len(xs),
            "median_ms": round(statistics.median(xs), 2),
            "p90_ms": round(sorted(xs)[int(0.9 * (len(xs) - 1))], 2),
            "max_ms": round(max(xs), 2),
        }

    result = {
        "files": files,
        "opened": args.open,
        "indexing_s": round(end_time - t0, 2),
        "indexing_message": end_message,
        "first_hover_ms": round(hovers[0], 2) if hovers else None,
        "hover_during_indexing": stats(hovers),
        "hover_during_indexing_after_first": stats(hovers[1:]),
        "hover_after_indexing": stats(after),
        "edit_to_diagnostics": stats(edits),
        "peak_rss_mb": round(rss, 1),
    }
    h = result["hover_during_indexing"]
    e = result["edit_to_diagnostics"]
    print(
        f"lsp_index: {files} files indexed in {result['indexing_s']} s ({end_message}); "
        f"hover during indexing: median {h['median_ms']} ms, max {h['max_ms']} ms over {h['n']} "
        f"(the first, which waits for the file's first check: {result['first_hover_ms']} ms; "
        f"max of the others {result['hover_during_indexing_after_first']['max_ms']} ms); "
        f"edit -> diagnostics: median {e['median_ms']} ms, max {e['max_ms']} ms over {e['n']}; "
        f"peak RSS {result['peak_rss_mb']} MB",
        file=sys.stderr,
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
