#!/usr/bin/env python3
"""A small HTTP service to try Weir's toolkit against (tests, bench/enrich, the
api-enrichment example). Loopback only.

    python3 scripts/testsvc.py [--port 0] [--latency-ms 5] [--fail-rate 0.3] [--seed N]

Prints `listening on 127.0.0.1:<port>` once it accepts connections. Answers:

- `GET /items/<id>`: `{"id": <id>, "name": "item-<id>", "price": <number>}` after the
  latency; with probability fail-rate a `503` instead;
- `GET /stats`: `{"requests": n, "failed": n, "down": bool}` (never delayed or failed);
- `POST /control` with JSON `{"latency_ms": .., "fail_rate": .., "retry_after": seconds or
  null, "down_for": seconds}`: changes the settings (`retry_after`: the failures' 503s carry
  `Retry-After`); `down_for` closes the listening socket (connections are refused) for that
  long.

Commands on stdin, one a line: `down` (stop listening), `up` (listen again on the same
port), `latency <ms>`, `fail <rate>`, `stats` (prints the stats line), `quit`. It stops
at the end of stdin too (so a test that dies takes the service with it).
"""

import argparse
import json
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, latency_ms, fail_rate, seed):
        self.lock = threading.Lock()
        self.latency = latency_ms / 1000.0
        self.fail_rate = fail_rate
        self.retry_after = None
        self.random = random.Random(seed)
        self.requests = 0
        self.failed = 0
        self.down = False

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "failed": self.failed, "down": self.down}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real services
    # Headers and body are two writes: with Nagle's algorithm, the body would wait for the
    # client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.connections.add(self.connection)

    def finish(self):
        with self.server.state.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def _send(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        if self.path == "/stats":
            return self._send(200, state.stats())
        if not self.path.startswith("/items/"):
            return self._send(404, {"error": f"no such path {self.path}"})
        with state.lock:
            state.requests += 1
            fail = state.random.random() < state.fail_rate
            if fail:
                state.failed += 1
            latency, retry_after = state.latency, state.retry_after
        if latency > 0:
            time.sleep(latency)
        if fail:
            headers = [("Retry-After", f"{retry_after:g}")] if retry_after is not None else []
            return self._send(503, {"error": "injected failure"}, headers)
        item = self.path[len("/items/"):]
        price = sum(item.encode()) % 1000 / 10.0
        self._send(200, {"id": item, "name": f"item-{item}", "price": price})

    def do_POST(self):
        if self.path != "/control":
            return self._send(404, {"error": f"no such path {self.path}"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError as e:
            return self._send(400, {"error": f"not JSON: {e}"})
        self.server.control.apply(body)
        self._send(200, self.server.state.stats())


class Control:
    """Starts and stops the listener on one port."""

    def __init__(self, port, state):
        self.state = state
        self.port = port
        self.server = None
        self.lock = threading.Lock()

    def up(self):
        with self.lock:
            if self.server is not None:
                return
            server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
            server.daemon_threads = True
            server.state, server.control, server.connections = self.state, self, set()
            self.port = server.server_address[1]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.server = server
            self.state.down = False

    def down(self):
        with self.lock:
            server, self.server = self.server, None
            self.state.down = True
        if server is not None:
            # Down means down: the kept-alive connections end too.
            with self.state.lock:
                connections = list(server.connections)
            for conn in connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            # From another thread: shutdown() waits for serve_forever, which may be this request's.
            threading.Thread(target=lambda: (server.shutdown(), server.server_close()), daemon=True).start()
            while server.socket.fileno() != -1 and self.state.down:
                time.sleep(0.005)

    def apply(self, settings):
        with self.state.lock:
            if "latency_ms" in settings:
                self.state.latency = float(settings["latency_ms"]) / 1000.0
            if "fail_rate" in settings:
                self.state.fail_rate = float(settings["fail_rate"])
            if "retry_after" in settings:
                self.state.retry_after = None if settings["retry_after"] is None else float(settings["retry_after"])
        if settings.get("down_for"):
            seconds = float(settings["down_for"])
            self.down()
            threading.Timer(seconds, self.up).start()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args()
    state = State(args.latency_ms, args.fail_rate, args.seed)
    control = Control(args.port, state)
    control.up()
    print(f"listening on 127.0.0.1:{control.port}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        if cmd == "down":
            control.down()
        elif cmd == "up":
            control.up()
        elif cmd == "latency" and len(words) == 2:
            control.apply({"latency_ms": words[1]})
        elif cmd == "fail" and len(words) == 2:
            control.apply({"fail_rate": words[1]})
        elif cmd == "stats":
            pass
        elif cmd == "quit":
            break
        else:
            print(f"unknown command {line.strip()!r}", flush=True)
            continue
        print(json.dumps(state.stats()), flush=True)
    control.down()


if __name__ == "__main__":
    main()
