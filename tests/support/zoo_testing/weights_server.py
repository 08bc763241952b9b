"""A real HTTP server on 127.0.0.1 for the weights download tests: it serves files by path, honours
Range requests (resumed downloads), and can misbehave on purpose (server errors, connections
cut short, slow transfers). It records every request so that tests can count downloads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class WeightsServer:
    """Files served at ``url + path``; ``mirror`` is the value for ``ZOO_MIRROR``."""

    port: int
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    status: dict[str, int] = field(default_factory=dict)  # path -> forced HTTP status
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the connection drops
    delay: float = 0.0  # seconds per 64 KiB chunk

    @property
    def mirror(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def gets(self, path: str) -> int:
        return sum(1 for requested, _ in self.requests if requested == path)


def _handler(state: WeightsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
            state.requests.append((self.path, self.headers.get("Range")))
            if self.path in state.status:
                self.send_error(state.status[self.path])
                return
            data = state.files.get(self.path)
            if data is None:
                self.send_error(404)
                return
            start = 0
            if self.headers.get("Range", "").startswith("bytes="):
                start = int(self.headers["Range"][len("bytes="):].split("-")[0])
            if start >= len(data) and data:
                self.send_error(416)
                return
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            end = min(len(data), state.cut_after.get(self.path, len(data)))
            for offset in range(start, max(start, end), 1 << 16):
                self.wfile.write(data[offset:min(end, offset + (1 << 16))])
                if state.delay:
                    time.sleep(state.delay)
            if end < len(data):
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler


@contextmanager
def serve() -> Iterator[WeightsServer]:
    """Start a server on a free port of 127.0.0.1; stop it on exit."""
    state = WeightsServer(port=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
