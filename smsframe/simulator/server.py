"""The simulator: a threaded HTTP server on loopback speaking the provider's SOAP."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from smsframe.simulator import soap
from smsframe.simulator.faults import Faults, forced_state
from smsframe.simulator.service import Service, refusal
from smsframe.simulator.store import Store

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("smsframe.simulator")

PATH = "/Service.asmx"
MAX_BODY = 32 * 1024 * 1024
IDLE_TIMEOUT_S = 30


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smsframe-simulator"
    timeout = IDLE_TIMEOUT_S  # a slow or idle client never pins a thread forever
    # Headers and body go out as two writes: with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms a call on a keep-alive connection).
    disable_nagle_algorithm = True
    simulator: Simulator  # set on the subclass made per simulator

    def setup(self) -> None:
        super().setup()
        self.simulator._connections.add(self.connection)

    def finish(self) -> None:
        self.simulator._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):  # the client left before its answer
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    # -- HTTP --------------------------------------------------------------
    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == PATH and query.lower() == "wsdl":
            self.simulator.requests["wsdl"] += 1
            self._reply(HTTPStatus.OK, soap.wsdl(self.simulator.url).encode(), "text/xml")
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"not found; the WSDL is at ?wsdl\n", "text/plain")

    def do_POST(self) -> None:
        if self.path.partition("?")[0] != PATH:
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._fault("Content-Length is required", HTTPStatus.LENGTH_REQUIRED, close=True)
            return
        if length > MAX_BODY:
            self._fault(f"request over {MAX_BODY} bytes", HTTPStatus.REQUEST_ENTITY_TOO_LARGE, True)
            return
        body = self.rfile.read(length)
        try:
            request = soap.parse_request(body)
        except soap.SoapFault as error:
            self._fault(str(error))
            return
        self.simulator._answer(self, request)

    # -- replies -----------------------------------------------------------
    def _reply(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _fault(
        self, message: str, status: int = HTTPStatus.INTERNAL_SERVER_ERROR, close: bool = False
    ) -> None:
        self._reply(status, soap.fault(message), "text/xml", close)

    def drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class Simulator:
    """A faithful local copy of the provider's SOAP service.

    Examples
    --------
    >>> from smsframe.simulator import Simulator
    >>> with Simulator() as sim:                       # in memory, a free port
    ...     sim.add_account(101, "demo", "secret", balance=1000)
    ...     url = sim.wsdl_url                         # give this to a SOAP client
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int = 0,
    ) -> None:
        self.store = Store(db_path)
        self.service = Service(self.store)
        self.faults = Faults(tuple(soap.OPERATIONS))
        self.latency_ms = latency_ms
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.requests: Counter[str] = Counter()  # calls per operation, and "wsdl" fetches

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> Simulator:
        if self._server is not None:
            return self
        handler = type("Handler", (_Handler,), {"simulator": self})
        server = ThreadingHTTPServer(self._address, handler, bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = 128
        server.server_bind()
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="smsframe-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._server = None
        self.store.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The service endpoint."""
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    @property
    def wsdl_url(self) -> str:
        """Where a SOAP client finds the service description."""
        return self.url + "?wsdl"

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Simulator {where}>"

    # -- administration ------------------------------------------------------
    def add_account(
        self,
        id: int,
        name: str,
        password: str,
        balance: int = 0,
        *,
        kind: str = "ordinary",
        disabled: bool = False,
        bound_ip: str | None = None,
    ) -> None:
        """Open an account (``kind``: ordinary, agent or group); ``balance`` is also its Totaled."""
        self.store.add_account(
            id, name, password, balance, kind=kind, disabled=disabled, bound_ip=bound_ip
        )

    def update_account(self, id: int, **fields: object) -> None:
        """Change name, password, kind, disabled or bound_ip of an account."""
        self.store.update_account(id, **fields)

    def recharge(self, id: int, amount: int) -> None:
        """Add ``amount`` messages to Balance and Totaled."""
        self.store.recharge(id, amount)

    def set_keywords(self, words: list[str]) -> None:
        """Replace the banned keywords (a message containing one answers -13)."""
        self.store.set_keywords(words)

    def mark_unreachable(self, phones: list[str]) -> None:
        """Numbers that always come back in FailPhone."""
        self.store.mark_unreachable(phones)

    def inject(
        self,
        operation: str | None,
        fault: str,
        *,
        times: int | None = None,
        probability: float | None = None,
        delay_ms: int = 0,
        seed: int | None = None,
    ) -> None:
        """Make calls misbehave: ``fault`` is one of state-9, state-100, null, http500,
        drop-before, drop-after, delay; ``operation`` None means every operation.
        Any ``state-N`` answers code -N unprocessed (e.g. ``state-11`` on SendTimer).

        With ``times`` the next K matching calls, with ``probability`` (seeded) a
        random share of them, with neither every call until :meth:`clear_faults`.
        """
        self.faults.add(
            operation, fault, times=times, probability=probability, delay_ms=delay_ms, seed=seed
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- inspection ----------------------------------------------------------
    def deliveries(self) -> pd.DataFrame:
        """The delivery log: one row per number delivered per accepted call."""
        return deliveries_frame(self.store)

    def balance(self, account_id: int) -> dict:
        """``{"Balance": ..., "Sended": ..., "Totaled": ...}`` of an account."""
        account = self.store.account(account_id)
        if account is None:
            raise KeyError(f"no account {account_id}")
        return {"Balance": account.balance, "Sended": account.sended, "Totaled": account.totaled}

    # -- one call ------------------------------------------------------------
    def _answer(self, handler: _Handler, request: soap.Request) -> None:
        self.requests[request.operation] += 1
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        rule = self.faults.pick(request.operation)
        fault = rule.fault if rule else None
        if rule and rule.delay_ms and fault != "delay":
            time.sleep(rule.delay_ms / 1000)
        if fault == "drop-before":
            handler.drop()
            return
        if fault == "http500":
            handler._reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"Internal Server Error", "text/html")
            return
        code = forced_state(fault) if fault else None
        if code is not None:
            handler._reply(
                HTTPStatus.OK,
                soap.response(request.operation, refusal(request.operation, code)),
                "text/xml",
            )
            return
        if fault == "null":
            handler._reply(HTTPStatus.OK, soap.response(request.operation, None), "text/xml")
            return
        result = self.service.call(request.operation, request.params, handler.client_address[0])
        if fault == "drop-after":
            handler.drop()
            return
        if fault == "delay":
            time.sleep(rule.delay_ms / 1000)
        handler._reply(HTTPStatus.OK, soap.response(request.operation, result), "text/xml")


def deliveries_frame(store: Store) -> pd.DataFrame:
    import pandas as pd

    columns, rows = store.query(
        "SELECT account_id, batch_id, phone, message, timestamp, scheduled_for, received_at, "
        "ext, operation FROM deliveries ORDER BY seq"
    )
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("scheduled_for", "received_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.tz_convert("Asia/Shanghai")
    return frame.astype({"account_id": "int64", "batch_id": "int64", "timestamp": "int64"})
