#!/usr/bin/env python3
"""A scripted transcription provider for the job tests, on 127.0.0.1.

    python3 t/lib/provider.py PORT

POST /_script {"steps": [STEP, ...], "then": STEP} sets what the next
calls get, in order, and resets the counters; a STEP is
{"status": 429, "retry_after": "1", "text": "...", "body": "...",
"sleep": 0.5, "close": true (no answer), "cut": true (an answer cut
short)}. Any other POST is a call: its whole body is
read, then it gets the next step (or "then"). GET /_stats answers
{"calls", "max_inflight", "requests": [{"path", "type", "length",
"headers"}...]}. It is the tests' counterpart: it counts what nginx did,
which nginx itself cannot.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"steps": [], "then": {"status": 200, "text": "hello"},
         "calls": 0, "inflight": 0, "max_inflight": 0, "requests": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        """the body's first 64 KiB, and its whole length"""
        n = int(self.headers.get("Content-Length") or 0)
        head = bytearray()
        got = 0
        while got < n:
            chunk = self.rfile.read(min(1 << 20, n - got))
            if not chunk:
                break
            if len(head) < 65536:
                head += chunk[:65536 - len(head)]
            got += len(chunk)
        return bytes(head), got

    def answer(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            out = {k: STATE[k] for k in ("calls", "max_inflight", "requests")}
        self.answer(200, json.dumps(out).encode())

    def do_POST(self):
        data, length = self.body()

        if self.path == "/_script":
            script = json.loads(data or b"{}")
            with LOCK:
                STATE["steps"] = script.get("steps", [])
                STATE["then"] = script.get("then",
                                           {"status": 200, "text": "hello"})
                STATE["calls"] = 0
                STATE["inflight"] = 0
                STATE["max_inflight"] = 0
                STATE["requests"] = []
            self.answer(200, b"{}")
            return

        with LOCK:
            n = STATE["calls"]
            STATE["calls"] += 1
            STATE["inflight"] += 1
            STATE["max_inflight"] = max(STATE["max_inflight"],
                                        STATE["inflight"])
            STATE["requests"].append({
                "path": self.path,
                "type": self.headers.get("Content-Type", ""),
                "length": length,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": data[:4096].decode("latin-1"),
            })
            steps = STATE["steps"]
            step = steps[n] if n < len(steps) else STATE["then"]

        try:
            time.sleep(step.get("sleep", 0))

            if step.get("close"):
                self.close_connection = True
                self.connection.shutdown(2)
                return

            if step.get("cut"):
                # an answer that promises more than it sends
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"text": "cut short"}')
                self.wfile.flush()
                self.connection.shutdown(2)
                return

            status = step.get("status", 200)
            extra = {}
            if "retry_after" in step:
                extra["Retry-After"] = step["retry_after"]

            if "body" in step:
                body = step["body"].encode()
                ctype = step.get("type", "application/json")
            elif status < 300:
                body = json.dumps({"text": step.get("text", "hello")}).encode()
                ctype = "application/json"
            else:
                body = json.dumps({"error": {"message": "status %d" % status}
                                   }).encode()
                ctype = "application/json"

            self.answer(status, body, ctype, extra)
        except OSError:
            pass
        finally:
            with LOCK:
                STATE["inflight"] -= 1


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
