"""A small HTTP/1.1 server on an asyncio loop in a thread of its own.

Just what the simulator needs: requests with a Content-Length body (or none),
keep-alive, answers written whole. A connection's requests are taken one at a
time: the next is read only once the current one is answered, so an answer may
come later (a latency, a group commit) without a thread waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

log = logging.getLogger("smsframe.simulator")

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024
IDLE_TIMEOUT_S = 30  # an idle or stalled connection is closed after this
SERVER = "smsframe-simulator"
STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class Refused(Exception):
    """A request the server answers itself, with ``status``, and then closes."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class Connection(asyncio.Protocol):
    """One client connection; the application answers with :meth:`reply` or :meth:`drop`."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.closed = False
        self.last_active = 0.0
        self._buffer = bytearray()
        self._head: tuple[str, str, dict[str, str], int] | None = None
        self._busy = False  # a request is being answered
        self._reading = False  # in _read: a reply made there needs no new _read
        self._close_after = False

    # -- asyncio -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername")[0]
        self.last_active = self.server.loop.time()
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self.last_active = self.server.loop.time()
        if not self._busy:
            self._read()

    # -- requests ------------------------------------------------------------
    def _read(self) -> None:
        self._reading = True
        try:
            while not self._busy and not self.closed:
                request = self._request()
                if request is None:
                    return
                self._busy = True
                try:
                    self.server.handler(self, request)
                except Exception:
                    log.exception("%s %s failed", request.method, request.path)
                    self.drop()
        except Refused as refused:
            self.server.refuse(self, refused.status, str(refused))
        finally:
            self._reading = False

    def _request(self) -> Request | None:
        """The next whole request in the buffer, if there is one."""
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head too large")
                return None
            self._head = self._parse_head(self._buffer[:end].decode("iso-8859-1"))
            del self._buffer[: end + 4]
        method, path, headers, length = self._head
        if len(self._buffer) < length:
            return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._head = None
        return Request(method, path, headers, body)

    def _parse_head(self, head: str) -> tuple[str, str, dict[str, str], int]:
        line, *lines = head.split("\r\n")
        words = line.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            raise Refused(HTTPStatus.BAD_REQUEST, f"bad request line {line[:100]!r}")
        method, path, version = words
        headers: dict[str, str] = {}
        for field in lines:
            name, colon, value = field.partition(":")
            if not colon:
                raise Refused(HTTPStatus.BAD_REQUEST, "bad header line")
            headers.setdefault(name.strip().lower(), value.strip())
        connection = headers.get("connection", "").lower()
        self._close_after = connection == "close" or (
            version == "HTTP/1.0" and connection != "keep-alive"
        )
        length = 0
        if method == "POST":
            try:
                length = int(headers.get("content-length", ""))
                if length < 0:
                    raise ValueError(length)
            except ValueError:
                raise Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required") from None
            if length > MAX_BODY:
                raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request over {MAX_BODY} bytes")
            if headers.get("expect", "").lower() == "100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return method, path, headers, length

    # -- answers -------------------------------------------------------------
    def reply(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
        """Answer the current request; then read the next one, unless ``close``."""
        if self.closed:
            return
        close = close or self._close_after
        head = (
            f"{STATUS_LINES[status]}Server: {SERVER}\r\nDate: {self.server.date()}\r\n"
            f"Content-Type: {content_type}; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        self.last_active = self.server.loop.time()
        if close:
            self.drop()
            return
        self._busy = False
        if not self._reading and self._buffer:
            self._read()

    def drop(self) -> None:
        """Close the connection (after what was written, without an answer if none)."""
        self.closed = True
        self.transport.close()


class HttpServer:
    """Serves ``handler(connection, request)`` on ``host:port`` from a thread named ``name``;
    ``refuse(connection, status, message)`` answers what cannot be read and closes."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: Callable[[Connection, Request], None],
        refuse: Callable[[Connection, HTTPStatus, str], None],
    ) -> None:
        self.handler, self.refuse = handler, refuse
        self.connections: set[Connection] = set()
        self._socket = socket.create_server((host, port), backlog=128)  # OSError: not free
        self.loop = asyncio.new_event_loop()
        self.address: tuple[str, int] = self._socket.getsockname()[:2]
        self._date = (0, "")
        self._server: asyncio.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, name: str) -> None:
        """Serve from a thread of its own (the caller's may run a loop: Jupyter's)."""
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name=name, daemon=True)
        self.thread.start()
        ready.wait()
        if self._server is None:
            self.thread.join()
            raise RuntimeError("the simulator's server did not start")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._server = self.loop.run_until_complete(
                self.loop.create_server(lambda: Connection(self), sock=self._socket)
            )
        except BaseException:
            self.loop.close()
            raise
        finally:
            ready.set()
        self.loop.call_soon(self._sweep)
        self.loop.run_forever()
        self.loop.run_until_complete(asyncio.sleep(0))  # the aborted transports close
        self.loop.close()

    def stop(self) -> None:
        """Stop listening, close every connection, end the thread."""

        def shutdown() -> None:
            self._server.close()
            for connection in list(self.connections):
                connection.transport.abort()
            self.loop.stop()

        self.loop.call_soon_threadsafe(shutdown)
        self.thread.join()

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        self.loop.call_soon(callback, *args)

    def call_later(self, ms: int, callback: Callable[..., object], *args: object) -> None:
        """``callback(*args)`` after ``ms`` milliseconds, at once if 0."""
        if ms:
            self.loop.call_later(ms / 1000, callback, *args)
        else:
            callback(*args)

    def date(self) -> str:
        now = int(self.loop.time())
        if self._date[0] != now:
            self._date = (now, formatdate(usegmt=True))
        return self._date[1]

    def _sweep(self) -> None:
        idle = self.loop.time() - IDLE_TIMEOUT_S
        for connection in list(self.connections):
            if connection.last_active < idle and not connection._busy:
                with contextlib.suppress(Exception):
                    connection.drop()
        self.loop.call_later(1, self._sweep)
