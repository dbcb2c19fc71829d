"""A real HTTP proxy in front of InfluxDB that fails some writes, as InfluxDB itself does under load."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class FlakyInflux:
    """Forwards to ``upstream``; answers every ``fail_every``-th /write with HTTP 500."""

    def __init__(self, upstream: str, fail_every: int = 3) -> None:
        self.upstream = upstream.rstrip("/")
        self.fail_every = fail_every
        self.writes = 0
        self.failed = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                if self.path.startswith("/write"):
                    proxy.writes += 1
                    if proxy.writes % proxy.fail_every == 0:
                        proxy.failed += 1
                        payload = b'{"error":"engine: error syncing wal"}'
                        self.send_response(500)
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                upstream = httpx.request(method, proxy.upstream + self.path, content=body, timeout=30)
                self.send_response(upstream.status_code)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
