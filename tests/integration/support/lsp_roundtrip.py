"""One LSP round trip with `oomlint server` (stdio): initialize, open a file, wait for its
diagnostics, shutdown, exit. Usage: lsp_roundtrip.py COMMAND... -- FILE EXPECTED_CODE
Prints what it saw; exit 0 when the server named itself, published EXPECTED_CODE for FILE,
answered shutdown and exited with 0 within the time limit."""
import json
import pathlib
import subprocess
import sys
import threading


def send(proc, msg):
    body = json.dumps(msg).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def read(proc):
    length = None
    while True:
        line = proc.stdout.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(proc.stdout.read(length))


def main():
    sep = sys.argv.index("--")
    command, (path, expected) = sys.argv[1:sep], sys.argv[sep + 1:]
    uri = pathlib.Path(path).resolve().as_uri()
    proc = subprocess.Popen(command + ["server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    timer = threading.Timer(30, proc.kill)
    timer.start()
    ok = True
    send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    msg = read(proc)
    name = (msg or {}).get("result", {}).get("serverInfo", {}).get("name")
    print(f"initialize -> serverInfo.name={name}")
    ok &= name == "oomlint"
    send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                            "text": pathlib.Path(path).read_text()}}})
    codes = None
    while codes is None:
        msg = read(proc)
        if msg is None:
            break
        if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
            codes = sorted({d.get("code") for d in msg["params"]["diagnostics"]})
    print(f"publishDiagnostics -> {codes}")
    ok &= codes is not None and expected in codes
    send(proc, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    while True:
        msg = read(proc)
        if msg is None or msg.get("id") == 2:
            break
    send(proc, {"jsonrpc": "2.0", "method": "exit"})
    rc = proc.wait()
    timer.cancel()
    print(f"shutdown answered: {msg is not None}; exit code {rc}")
    ok &= msg is not None and rc == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
