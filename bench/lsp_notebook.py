#!/usr/bin/env python3
"""Edit latency of a notebook in the language server (notebookDocument/sync).

    bench/lsp_notebook.py --oomlint BUILD/server/oomlint --script FILE.py [--edits N] [--json FILE]

Cuts the Python script into code cells of about --cell-lines lines (at top-level statements, so
each cell parses), with a markdown cell before every fourth one, opens it in `oomlint server
--debounce 0` as a Jupyter notebook through notebookDocument/didOpen, then types --edits
single-character edits in the middle of the middle code cell (a character inserted, then deleted
again, in turn) and times each from the didChange to the publishDiagnostics of that cell at its
new version. Every edit re-checks the whole notebook (all its code cells as one module). Prints
and writes the median and the 99th percentile in milliseconds, and the server's CPU time per
edit (user + system, /proc/PID/stat), which other load on the machine does not inflate.
--as-python: the same edits on the same code opened as one .py document, the baseline.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lsp_index import Client, peak_rss_mb  # noqa: E402


def cut_cells(text, cell_lines):
    cells, current = [], []
    for line in text.splitlines(keepends=True):
        top_level = line[:1] not in ("", " ", "\t", "\n", "#", ")", "]", "}")
        if top_level and len(current) >= cell_lines:
            cells.append("".join(current))
            current = []
        current.append(line)
    if current:
        cells.append("".join(current))
    return cells


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oomlint", required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--edits", type=int, default=300)
    ap.add_argument("--cell-lines", type=int, default=25)
    ap.add_argument("--json")
    ap.add_argument(
        "--as-python",
        action="store_true",
        help="the baseline: the same cells joined into one .py document, the same edits",
    )
    args = ap.parse_args()
    with open(args.script, encoding="utf-8") as f:
        code_cells = cut_cells(f.read(), args.cell_lines)
    tmp = tempfile.mkdtemp(prefix="oomlint-bench-nb-")
    nb_uri = "file://" + os.path.join(tmp, "train.ipynb")
    cells, items, code_uris = [], [], []
    for i, text in enumerate(code_cells):
        if i % 4 == 0:
            uri = f"vscode-notebook-cell:{tmp}/train.ipynb#M{i}"
            cells.append({"kind": 1, "document": uri})
            items.append({"uri": uri, "languageId": "markdown", "version": 1, "text": "# Step\n"})
        uri = f"vscode-notebook-cell:{tmp}/train.ipynb#C{i}"
        cells.append({"kind": 2, "document": uri})
        items.append({"uri": uri, "languageId": "python", "version": 1, "text": text})
        code_uris.append(uri)

    client = Client([args.oomlint, "server", "--debounce", "0"])
    client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": "file://" + tmp,
            "capabilities": {},
            "initializationOptions": {"indexWorkspace": False},
        },
    )
    client.notify("initialized", {})
    client.notify(
        "notebookDocument/didOpen",
        {
            "notebookDocument": {
                "uri": nb_uri,
                "notebookType": "jupyter-notebook",
                "version": 1,
                "cells": cells,
            },
            "cellTextDocuments": items,
        },
    )
    target = code_uris[len(code_uris) // 2]
    if client.wait_published(target, 1) is None:
        raise SystemExit("lsp_notebook: no diagnostics after didOpen")
    text = next(i["text"] for i in items if i["uri"] == target)
    lines = text.splitlines()
    line = len(lines) // 2
    col = len(lines[line]) // 2
    py_uri = "file://" + os.path.join(tmp, "train.py")
    if args.as_python:
        # The middle cell's middle line, in the joined text.
        before = code_cells[: len(code_cells) // 2]
        line += sum(c.count("\n") for c in before)
        joined = "".join(code_cells)
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": py_uri, "languageId": "python", "version": 1, "text": joined}},
        )
        if client.wait_published(py_uri, 1) is None:
            raise SystemExit("lsp_notebook: no diagnostics after didOpen of the .py")
    latencies = []
    version = 1
    cpu_before = cpu_seconds(client.proc.pid)
    for n in range(args.edits):
        version += 1
        if n % 2 == 0:
            change = {"range": {"start": {"line": line, "character": col},
                                "end": {"line": line, "character": col}}, "text": "x"}
        else:
            change = {"range": {"start": {"line": line, "character": col},
                                "end": {"line": line, "character": col + 1}}, "text": ""}
        sent = time.monotonic()
        if args.as_python:
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": py_uri, "version": version},
                    "contentChanges": [change],
                },
            )
            got = client.wait_published(py_uri, version)
            if got is None:
                raise SystemExit(f"lsp_notebook: no diagnostics for edit {n}")
            latencies.append((got - sent) * 1000)
            continue
        client.notify(
            "notebookDocument/didChange",
            {
                "notebookDocument": {"uri": nb_uri, "version": version},
                "change": {
                    "cells": {
                        "textContent": [
                            {"document": {"uri": target, "version": version}, "changes": [change]}
                        ]
                    }
                },
            },
        )
        got = client.wait_published(target, version)
        if got is None:
            raise SystemExit(f"lsp_notebook: no diagnostics for edit {n}")
        latencies.append((got - sent) * 1000)
    cpu_ms = (cpu_seconds(client.proc.pid) - cpu_before) * 1000 / max(1, len(latencies))
    rss = peak_rss_mb(client.proc.pid)
    client.request("shutdown", None)
    client.notify("exit", None)
    client.proc.wait(timeout=30)
    result = {
        "cells": len(code_cells),
        "lines": sum(c.count("\n") for c in code_cells),
        "document": "python" if args.as_python else "notebook",
        "edits": len(latencies),
        "median_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "max_ms": round(max(latencies), 3),
        # The server's CPU time per edit: what the edit costs, whatever else runs on the machine.
        "server_cpu_ms_per_edit": round(cpu_ms, 3),
        "peak_rss_mb": round(rss, 1),
    }
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
