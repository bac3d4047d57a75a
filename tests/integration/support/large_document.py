"""Drives `oomlint server` over stdio: a large didOpen must not hold up other requests.

Phase 1: a small document A (a finding) is open and analysed. A large document B is opened and a
hover on A sent right behind it: the hover's reply must come before the server has finished with
B (B's window/showMessage, sent once its didOpen has been parsed and handled), and B gets empty
diagnostics (over the default size limit). Phase 2: another large document C, then shutdown right
behind it: shutdown is answered, and exit ends the server with code 0.

Ordering is what is asserted; the times are printed, with a generous stall guard only (the
hover must come back within 10 s, where a stalled server takes the whole parse).
"""
import json
import os
import subprocess
import sys
import threading
import time

binary = sys.argv[1]
size = int(float(os.environ.get("OOMLINT_LARGE_MB", "24")) * 1_000_000)

proc = subprocess.Popen([binary, "server", "--log-level", "error"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE)
events = []  # (time, message)
cond = threading.Condition()


def reader():
    out = proc.stdout
    while True:
        headers = {}
        while True:
            line = out.readline()
            if not line:
                with cond:
                    events.append((time.monotonic(), None))
                    cond.notify_all()
                return
            line = line.strip()
            if not line:
                break
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = out.read(int(headers["content-length"]))
        with cond:
            events.append((time.monotonic(), json.loads(body)))
            cond.notify_all()


threading.Thread(target=reader, daemon=True).start()


def send(msg):
    body = json.dumps(msg).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def wait_for(pred, timeout=60):
    deadline = time.monotonic() + timeout
    with cond:
        while True:
            for t, m in events:
                if m is not None and pred(m):
                    return t, m
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit("FAIL: timed out waiting; got: %s" %
                         [m.get("method", m.get("id")) for _, m in events if m])
            cond.wait(left)


def fail(why):
    print("FAIL: " + why)
    proc.kill()
    sys.exit(1)


root = "/tmp/oomlint-large-%d" % os.getpid()
uri_a = "file://%s/a.py" % root
uri_b = "file://%s/big_b.py" % root
uri_c = "file://%s/big_c.py" % root
small = "import torch\nfor batch in loader:\n    loss = model(batch).sum()\n    loss.backward()\n    torch.cuda.empty_cache()\n"
# A training script repeated: valid Python, as a generated file would be.
unit = "x = torch.zeros(8)  # some generated line of code\n"
big = unit * (size // len(unit))

send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
      "params": {"processId": None, "rootUri": None, "capabilities": {},
                 "initializationOptions": {"indexWorkspace": False}}})
wait_for(lambda m: m.get("id") == 1)
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
      "params": {"textDocument": {"uri": uri_a, "languageId": "python", "version": 1, "text": small}}})
_, diag_a = wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                     and m["params"]["uri"] == uri_a)
if not diag_a["params"]["diagnostics"]:
    fail("no diagnostics for the small document")
print("ok   small document analysed (%d diagnostics)" % len(diag_a["params"]["diagnostics"]))

# Phase 1.
open_b = {"jsonrpc": "2.0", "method": "textDocument/didOpen",
          "params": {"textDocument": {"uri": uri_b, "languageId": "python", "version": 1, "text": big}}}
t0 = time.monotonic()
send(open_b)
t_sent = time.monotonic()
send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover",
      "params": {"textDocument": {"uri": uri_a}, "position": {"line": 4, "character": 16}}})
t_hover, hover = wait_for(lambda m: m.get("id") == 2, timeout=120)
t_msg, msg = wait_for(lambda m: m.get("method") == "window/showMessage", timeout=300)
_, diag_b = wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                     and m["params"]["uri"] == uri_b, timeout=300)
print("     %.1f MB didOpen written in %.0f ms; hover on the other document answered %.1f ms after "
      "it was sent; the large document handled %.0f ms after it was written" %
      (len(big) / 1e6, (t_sent - t0) * 1000, (t_hover - t_sent) * 1000, (t_msg - t_sent) * 1000))
if "error" in hover:
    fail("hover failed: %s" % hover["error"])
if "big_b.py" not in msg["params"]["message"] or "not analysed" not in msg["params"]["message"]:
    fail("unexpected showMessage: %s" % msg["params"]["message"])
if t_hover > t_msg:
    fail("the hover waited for the large document (answered after its showMessage)")
if t_hover - t_sent > 10:
    fail("the hover took %.1f s" % (t_hover - t_sent))
if diag_b["params"]["diagnostics"]:
    fail("the over-limit document was analysed")
print("ok   hover answered before the large didOpen was handled; that one: showMessage, no analysis")

# Phase 2.
open_c = {"jsonrpc": "2.0", "method": "textDocument/didOpen",
          "params": {"textDocument": {"uri": uri_c, "languageId": "python", "version": 1, "text": big}}}
send(open_c)
t_sent = time.monotonic()
send({"jsonrpc": "2.0", "id": 3, "method": "shutdown", "params": None})
t_shut, shut = wait_for(lambda m: m.get("id") == 3, timeout=120)
if "error" in shut:
    fail("shutdown failed: %s" % shut["error"])
print("     shutdown answered %.1f ms after it was sent, behind a %.1f MB didOpen" %
      ((t_shut - t_sent) * 1000, len(big) / 1e6))
if t_shut - t_sent > 10:
    fail("shutdown took %.1f s" % (t_shut - t_sent))
send({"jsonrpc": "2.0", "method": "exit"})
try:
    code = proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    fail("the server did not exit")
if code != 0:
    fail("exit code %d after shutdown and exit" % code)
print("ok   shutdown answered behind a large didOpen; exit code 0")
