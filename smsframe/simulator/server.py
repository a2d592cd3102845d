"""The simulator: the provider's SOAP service over HTTP on loopback.

Calls are served by one asyncio loop (:mod:`smsframe.simulator.httpd`). The calls
that are ready together run in one group transaction of the store, each atomic in
a savepoint of it, and are answered only once the group is committed.
"""

from __future__ import annotations

import logging
from collections import Counter
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

from smsframe.simulator import soap
from smsframe.simulator.faults import FaultRule, Faults, forced_state
from smsframe.simulator.httpd import Connection, HttpServer, Request
from smsframe.simulator.service import Service, refusal
from smsframe.simulator.store import Store

if TYPE_CHECKING:
    import threading

    import pandas as pd

log = logging.getLogger("smsframe.simulator")

PATH = "/Service.asmx"
FAILED = object()  # a call whose processing raised: its connection closes unanswered


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
        self._server: HttpServer | None = None
        self._pending: list[tuple[Connection, soap.Request, FaultRule | None]] = []
        self.requests: Counter[str] = Counter()  # calls per operation, and "wsdl" fetches

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> Simulator:
        if self._server is not None:
            return self
        self._server = HttpServer(*self._address, self._handle, self._refuse)
        self._server.start("smsframe-simulator")
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        self._server = None
        self._pending.clear()
        self.store.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the simulator listens on."""
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return self._server.address

    @property
    def url(self) -> str:
        """The service endpoint."""
        host, port = self.address
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

    # -- the server's side (on its loop) -----------------------------------------
    @property
    def _thread(self) -> threading.Thread | None:
        return None if self._server is None else self._server.thread

    @property
    def _connections(self) -> set[Connection]:
        return set() if self._server is None else self._server.connections

    def _handle(self, connection: Connection, request: Request) -> None:
        path, _, query = request.path.partition("?")
        if request.method == "GET" and path == PATH and query.lower() == "wsdl":
            self.requests["wsdl"] += 1
            connection.reply(HTTPStatus.OK, soap.wsdl(self.url).encode(), "text/xml")
        elif request.method not in ("GET", "POST"):
            connection.reply(HTTPStatus.NOT_IMPLEMENTED, b"not implemented\n", "text/plain", True)
        elif request.method == "GET":
            connection.reply(
                HTTPStatus.NOT_FOUND, b"not found; the WSDL is at ?wsdl\n", "text/plain"
            )
        elif path != PATH:
            connection.reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        else:
            try:
                call = soap.parse_request(request.body)
            except soap.SoapFault as error:
                connection.reply(
                    HTTPStatus.INTERNAL_SERVER_ERROR, soap.fault(str(error)), "text/xml"
                )
                return
            self.requests[call.operation] += 1
            self._server.call_later(self.latency_ms, self._picked, connection, call)

    def _refuse(self, connection: Connection, status: HTTPStatus, message: str) -> None:
        if status == HTTPStatus.BAD_REQUEST:  # not even HTTP: no SOAP either
            connection.reply(status, f"{message}\n".encode(), "text/plain", True)
        else:
            connection.reply(status, soap.fault(message), "text/xml", True)

    def _picked(self, connection: Connection, call: soap.Request) -> None:
        rule = self.faults.pick(call.operation)
        delay = rule.delay_ms if rule and rule.fault != "delay" else 0
        self._server.call_later(delay, self._faulted, connection, call, rule)

    def _faulted(self, connection: Connection, call: soap.Request, rule: FaultRule | None) -> None:
        fault = rule.fault if rule else None
        if fault == "drop-before":
            connection.drop()
            return
        if fault == "http500":
            connection.reply(
                HTTPStatus.INTERNAL_SERVER_ERROR, b"Internal Server Error", "text/html"
            )
            return
        code = forced_state(fault) if fault else None
        if code is not None:
            answer = soap.response(call.operation, refusal(call.operation, code))
            connection.reply(HTTPStatus.OK, answer, "text/xml")
            return
        if fault == "null":
            connection.reply(HTTPStatus.OK, soap.response(call.operation, None), "text/xml")
            return
        self._pending.append((connection, call, rule))
        if len(self._pending) == 1:  # the first of a group: run it once the loop turns
            self._server.call_soon(self._run_pending)

    def _run_pending(self) -> None:
        """Run the calls ready together in one committed group, then answer them."""
        pending, self._pending = self._pending, []
        results: list[object] = []
        try:
            with self.store.group():
                for connection, call, _ in pending:
                    try:
                        results.append(
                            self.service.call(call.operation, call.params, connection.peer)
                        )
                    except Exception:
                        log.exception("%s failed", call.operation)
                        results.append(FAILED)
        except Exception:
            log.exception("the simulator's store failed: %d calls left unanswered", len(pending))
            results = [FAILED] * len(pending)
        for (connection, call, rule), result in zip(pending, results, strict=True):
            fault = rule.fault if rule else None
            if result is FAILED or fault == "drop-after":
                connection.drop()
                continue
            answer = soap.response(call.operation, result)  # type: ignore[arg-type]
            delay = rule.delay_ms if rule and fault == "delay" else 0
            self._server.call_later(delay, connection.reply, HTTPStatus.OK, answer, "text/xml")


def deliveries_frame(store: Store) -> pd.DataFrame:
    import pandas as pd

    columns, rows = store.query(
        "SELECT account_id, batch_id, phone, message, timestamp, scheduled_for, received_at, "
        "ext, operation FROM deliveries ORDER BY seq"
    )
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("scheduled_for", "received_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").dt.tz_convert(
            "Asia/Shanghai"
        )
    return frame.astype({"account_id": "int64", "batch_id": "int64", "timestamp": "int64"})
