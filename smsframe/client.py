"""SmsClient: the provider's six operations over zeep. The only module that talks SOAP.

Examples
--------
>>> from smsframe import SmsClient
>>> client = SmsClient(sim.wsdl_url, 101, "demo", "secret")  # the provider's WSDL URL
>>> client.login()
101
>>> client.send("您好", ["13800138000"], timestamp=1764000000)
SendResult(operation='SendMessage', state=1, status='sent', ..., failed_phones=[], keywords=[])
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import requests
import urllib3
import zeep
import zeep.cache
import zeep.exceptions
from lxml import etree
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from smsframe.codes import CHINA, Code, Status, decode
from smsframe.errors import (
    AccountError,
    InvalidRequest,
    OutcomeUnknown,
    ProviderUnavailable,
    SmsError,
    UntrustedHost,
)

log = logging.getLogger("smsframe.client")

SCHEDULE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_REDIRECTS = 5  # of the service description
MASK = "********"
# One WSDL load at a time in the process: the first fills zeep's cache for the others,
# so threads (or clients) starting together fetch it once.
_LOADING = threading.Lock()
_SECRET_PARAMS = ("Psw", "OldPsw", "NewPsw")


class Secret(str):
    """A password: a ``str`` (zeep writes it into the envelope with ``str()``) whose
    repr and format are masked, so that no traceback, even with its frames' locals
    (IPython's ``%xmode Verbose``, a debugger, ``capture_locals=True``), nor an f-string
    or log line shows it. Only :meth:`reveal` (or ``str()``) gives it."""

    __slots__ = ()

    def reveal(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return repr(MASK)

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __reduce__(self):  # never pickled along with a client
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Balance:
    """The account's figures from GetBalance (``state`` is the account ID)."""

    balance: int
    sent: int
    total: int
    state: int


@dataclass(frozen=True)
class SendResult:
    """The provider's answer to one send call, decoded."""

    operation: str
    state: int
    status: Status
    meaning: str
    batch_id: int | None
    failed_phones: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)

    @property
    def code(self) -> Code:
        return decode(self.operation, self.state)

    @property
    def ok(self) -> bool:
        return self.code.ok


class _Watchdog:
    """One daemon thread for the process that shuts down the socket of an overdue answer.

    The read timeout bounds each read, not a whole answer: a server trickling its
    status line and headers a byte at a time would hold a worker forever. (The body
    is bounded by ``_Transport._bounded``.) Watching costs a dict insert per call.
    """

    TICK_S = 0.1

    def __init__(self) -> None:
        self._due: dict[int, tuple[float, socket.socket]] = {}
        self._shut: set[int] = set()  # watched sockets shut down, until released
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, seconds: float) -> None:
        with self._lock:
            self._due[id(sock)] = (time.monotonic() + seconds, sock)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="smsframe-watchdog", daemon=True
                )
                self._thread.start()

    def release(self, sock: socket.socket) -> None:
        with self._lock:
            self._due.pop(id(sock), None)
            self._shut.discard(id(sock))

    def shut(self, sock: socket.socket) -> bool:
        """Whether the watchdog shut this watched socket down (its answer was overdue)."""
        with self._lock:
            return id(sock) in self._shut

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK_S)
            now = time.monotonic()
            with self._lock:  # held while shutting down: a released socket is never touched
                overdue = [key for key, (due, _) in self._due.items() if due <= now]
                for key in overdue:
                    self._shut.add(key)
                    with contextlib.suppress(OSError):
                        self._due.pop(key)[1].shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


class _DeadlineMixin:
    """A urllib3 connection whose status line and headers arrive within its read timeout."""

    def getresponse(self, *args, **kwargs):
        sock, seconds = self.sock, self.timeout
        if sock is None or not isinstance(seconds, int | float):
            return super().getresponse(*args, **kwargs)
        _WATCHDOG.watch(sock, seconds)
        try:
            return super().getresponse(*args, **kwargs)
        except (OSError, http.client.HTTPException) as error:
            if _WATCHDOG.shut(sock):  # our deadline, not the provider, ended it: a timeout
                raise TimeoutError(f"no answer's head within {seconds} s") from error
            raise
        finally:
            _WATCHDOG.release(sock)


class _HTTPConnection(_DeadlineMixin, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineMixin, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


# zeep and requests internals this module relies on, checked against zeep 4.2-4.3 and
# requests 2.31-2.34 (tests/test_client.py::test_the_internals_we_rely_on_are_still_there
# fails if they change): zeep.Transport._load_remote_data (every WSDL and schema fetch),
# zeep's ServiceProxy._binding_options["address"] (where calls go), and
# requests.Response._content (an answer read by hand, in bounded memory).
class _Transport(zeep.Transport):
    """zeep's transport with bounded answers and no envelope logging.

    zeep's own ``post`` logs whole envelopes at DEBUG, password included; this
    one logs the size and status only. Answers are read within ``deadline``
    seconds and ``max_bytes`` bytes, so a hostile or stuck server cannot hold a
    worker or its memory.

    A call is the campaign's hot path: its request is a copy of one prepared per
    address (URL, headers and proxies worked out once) handed straight to the
    connection pool's adapter. A SOAP call is answered, never redirected, and the
    service keeps no cookies, so requests' session layer has nothing to add there.
    """

    def __init__(
        self, url: str, timeout: float, operation_timeout: float, max_bytes: int, pool_size: int
    ):
        session = requests.Session()
        # Proxies and CA bundle are read from the environment once, here, rather than
        # on every call (requests' default costs ~0.4 ms of CPU a call).
        session.proxies.update(requests.utils.get_environ_proxies(url))
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
            "CURL_CA_BUNDLE", True
        )
        session.trust_env = False
        adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        super().__init__(
            cache=zeep.cache.InMemoryCache(),  # process-wide: the WSDL is fetched once
            timeout=timeout,
            operation_timeout=operation_timeout,
            session=session,
        )
        self.max_bytes = max_bytes
        self.other_hosts = False  # follow redirects to another host (SmsClient's option)
        self._adapter = adapter
        self._prepared: dict[str, requests.PreparedRequest] = {}

    def _bounded(self, response: requests.Response, started: float) -> requests.Response:
        try:
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > self.max_bytes:
                raise _AnswerRefused(f"an answer of {declared} bytes (limit {self.max_bytes})")
            chunks, size = [], 0
            while chunk := response.raw.read1(65536, decode_content=True):
                size += len(chunk)
                if size > self.max_bytes:
                    raise _AnswerRefused(f"an answer over {self.max_bytes} bytes")
                if time.monotonic() - started > self.operation_timeout:
                    raise _AnswerRefused(
                        f"an answer still arriving after {self.operation_timeout} s"
                    )
                chunks.append(chunk)
            response._content = b"".join(chunks)
        except urllib3.exceptions.HTTPError as error:  # stalled or cut off midway
            raise _AnswerRefused(f"the answer broke off: {error}") from None
        finally:
            response.close()
        return response

    def post(self, address, message, headers):
        started = time.monotonic()
        prepared = self._prepared.get(address)
        if prepared is None:
            prepared = self.session.prepare_request(requests.Request("POST", address))
            self._prepared[address] = prepared
        request = prepared.copy()
        request.headers.update(headers)
        request.prepare_body(message, None)
        response = self._adapter.send(
            request,
            stream=True,
            timeout=(self.load_timeout, self.operation_timeout),
            verify=self.session.verify,
            proxies=self.session.proxies,
        )
        response = self._bounded(response, started)
        log.debug(
            "POST %s -> HTTP %s, %d bytes", address, response.status_code, len(response.content)
        )
        return response

    def _load_remote_data(self, url):
        started = time.monotonic()
        for _ in range(MAX_REDIRECTS + 1):
            response = self.session.get(
                url, timeout=self.load_timeout, stream=True, allow_redirects=False
            )
            if not response.is_redirect:
                break
            target = urllib.parse.urljoin(url, response.headers["Location"])
            response.close()
            if not self.other_hosts:
                refuse_other_host(url, target, "redirects the service description")
            url = target
        else:
            raise _AnswerRefused(f"more than {MAX_REDIRECTS} redirects")
        response = self._bounded(response, started)
        response.raise_for_status()
        return response.content


class _AnswerRefused(Exception):
    """The answer was too large or too slow and was not read."""


def refuse_other_host(origin: str, target: str, what: str) -> None:
    """Raise :class:`UntrustedHost` when ``target`` is on another host than ``origin``,
    or goes from https to http: the password must go only where it was meant to."""
    source, there = urllib.parse.urlsplit(origin), urllib.parse.urlsplit(target)
    if (there.hostname or "").lower() != (source.hostname or "").lower():
        problem = f"to another host ({there.hostname})"
    elif source.scheme == "https" and there.scheme != "https":
        problem = "from https to plain http"
    else:
        return
    raise UntrustedHost(
        f"the provider at {source.hostname} {what} {problem}: smsframe does not send the "
        "account's password there. If that address is truly the provider's, pass "
        "allow_credentials_to_other_hosts=True to SmsClient"
    )


# What reading a service description or an answer can raise: nothing usable came back.
_UNREADABLE = (_AnswerRefused, requests.RequestException, zeep.exceptions.Error, etree.LxmlError)


class SmsClient:
    """A client of the provider's SOAP service for one account.

    Parameters
    ----------
    wsdl_url : where the service description is (``...Service.asmx?wsdl``).
    account_id, name, password : the account (organisation code, name, password).
    timeout : seconds to connect and to load the WSDL.
    operation_timeout : seconds for a whole answer to arrive.
    pool_size : HTTP connections kept open; at least the number of threads using the client.
    allow_credentials_to_other_hosts : follow a redirect of the service description to
        another host (or from https to http), and call a service address on another host
        than the description's. Off: such a provider is refused (:class:`UntrustedHost`),
        since every call carries the password.

    Examples
    --------
    >>> client = SmsClient.from_env()  # doctest: +SKIP
    >>> client.balance()
    Balance(balance=..., sent=..., total=1000, state=101)
    """

    def __init__(
        self,
        wsdl_url: str,
        account_id: int,
        name: str,
        password: str,
        *,
        timeout: float = 10.0,
        operation_timeout: float = 60.0,
        pool_size: int = 16,
        max_answer_bytes: int = 1_000_000,
        allow_credentials_to_other_hosts: bool = False,
    ) -> None:
        password = Secret(password)  # masked in this frame's locals from the first line
        for label, seconds in (("timeout", timeout), ("operation_timeout", operation_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise ValueError(f"{label} must be a number of seconds > 0, got {seconds!r}")
        self.wsdl_url = wsdl_url
        self.account_id = int(account_id)
        self.name = name
        self._password = password
        self._transport = _Transport(
            wsdl_url, timeout, operation_timeout, max_answer_bytes, pool_size
        )
        self._transport.other_hosts = allow_credentials_to_other_hosts
        self._settings = zeep.Settings(
            strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        self._service = None

    @property
    def operation_timeout(self) -> float:
        """Seconds for a whole answer to arrive."""
        return self._transport.operation_timeout

    @classmethod
    def from_env(cls, **options) -> SmsClient:
        """A client from SMSFRAME_WSDL, SMSFRAME_ID, SMSFRAME_NAME and SMSFRAME_PASSWORD."""
        names = ("SMSFRAME_WSDL", "SMSFRAME_ID", "SMSFRAME_NAME", "SMSFRAME_PASSWORD")
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise SmsError(f"set the environment variable(s) {', '.join(missing)} first")
        try:
            account_id = int(os.environ["SMSFRAME_ID"])
        except ValueError:
            raise SmsError("SMSFRAME_ID must be the organisation code, an integer") from None
        wsdl, name = os.environ["SMSFRAME_WSDL"], os.environ["SMSFRAME_NAME"]
        return cls(wsdl, account_id, name, Secret(os.environ["SMSFRAME_PASSWORD"]), **options)

    def __repr__(self) -> str:
        return f"SmsClient({self.wsdl_url!r}, account_id={self.account_id}, name={self.name!r})"

    def __reduce__(self):
        raise TypeError("an SmsClient holds a password and cannot be pickled")

    # -- the operations --------------------------------------------------------
    def login(self) -> int:
        """Check the account; returns its ID or raises :class:`AccountError`.

        >>> client.login()
        101
        """
        return self._account_call("UserLogin", Psw=self._password)

    def update_password(self, new: str) -> None:
        """Change the account's password; the client uses the new one afterwards.

        >>> client.update_password("n3w-secret")
        """
        if not isinstance(new, str) or not new.strip():
            raise ValueError("the new password must be a non-empty string")
        new = Secret(new)  # masked in this frame's locals from here on
        self._account_call("UpdatePsw", OldPsw=self._password, NewPsw=new)
        self._password = new

    def balance(self) -> Balance:
        """The account's balance, messages sent and total recharged.

        >>> client.balance()
        Balance(balance=..., sent=..., total=1000, state=101)
        """
        answer = self._call("GetBalance", Psw=self._password)
        if answer is None:
            raise OutcomeUnknown("GetBalance gave an empty answer; try again")
        self._raise_for_account("GetBalance", _whole("GetBalance", "State", answer.State))
        figures = (answer.Balance, answer.Sended, answer.Totaled, answer.State)
        names = ("Balance", "Sended", "Totaled", "State")
        return Balance(*(_whole("GetBalance", n, v) for n, v in zip(names, figures, strict=True)))

    def send(self, message: str, phones: Iterable[str] | str, *, timestamp: int) -> SendResult:
        """Send ``message`` to ``phones`` (at most 1000) as part of batch ``timestamp``.

        >>> client.send("您好", ["13800138000", "13900000000"], timestamp=1764000000)
        SendResult(operation='SendMessage', state=1, status='sent', ...)
        """
        return self._send("SendMessage", message, phones, Timestamp=_timestamp(timestamp))

    def schedule(
        self, message: str, phones: Iterable[str] | str, *, at: datetime, timestamp: int
    ) -> SendResult:
        """Schedule ``message`` for ``at``: naive means China Standard Time, aware is converted.

        A scheduled batch cannot be cancelled: the provider has no operation for it.

        >>> from datetime import datetime
        >>> client.schedule("您好", ["13800138000"], at=datetime(2030, 1, 1, 9), timestamp=1)
        SendResult(operation='SendTimer', state=1, status='scheduled', ...)
        """
        return self._send(
            "SendTimer", message, phones, DateTime=china_time(at), Timestamp=_timestamp(timestamp)
        )

    def send_ext(
        self, message: str, phones: Iterable[str] | str, *, ext: str, timestamp: int
    ) -> SendResult:
        """Send with an extension sub-number ``ext`` (digits only, at most 6).

        >>> client.send_ext("您好", ["13800138000"], ext="2024", timestamp=1)
        SendResult(operation='SendMessageExt', state=1, status='sent', ...)
        """
        return self._send(
            "SendMessageExt", message, phones, Timestamp=_timestamp(timestamp), Ext=str(ext)
        )

    # -- plumbing ------------------------------------------------------------------
    @property
    def service(self):
        if self._service is None:
            with _LOADING:
                if self._service is None:
                    self._service = self._load().service
        return self._service

    def _load(self) -> zeep.Client:
        try:
            client = zeep.Client(self.wsdl_url, transport=self._transport, settings=self._settings)
        except _UNREADABLE as error:
            raise ProviderUnavailable(
                f"could not load the service description from {self.wsdl_url}: "
                f"{self.scrub(error)}; check the URL and that the provider is up"
            ) from None
        if not self._transport.other_hosts:
            address = client.service._binding_options.get("address", "")
            refuse_other_host(self.wsdl_url, address, f"names its service address {address}")
        return client

    def _account_call(self, operation: str, **params) -> int:
        answer = self._call(operation, **params)
        if answer is None:
            raise OutcomeUnknown(f"{operation} gave an empty answer; try again")
        self._raise_for_account(operation, _whole(operation, "its result", answer))
        return answer

    def _raise_for_account(self, operation: str, state: int) -> None:
        code = decode(operation, state)
        if code.ok:
            return
        if code.value == -9:
            raise ProviderUnavailable(f"{operation}: {code}; it is safe to try again")
        if code.status == "unknown":
            raise OutcomeUnknown(f"{operation}: {code}; check the account before trying again")
        raise AccountError(code)

    def _send(self, operation: str, message: str, phones, **params) -> SendResult:
        if not isinstance(message, str):
            raise TypeError(f"message must be a str, got {type(message).__name__}")
        phone = phones if isinstance(phones, str) else ";".join(map(str, phones))
        answer = self._call(operation, Psw=self._password, Message=message, Phone=phone, **params)
        if answer is None:
            raise OutcomeUnknown(
                f"{operation} gave an empty answer: the call may have been processed; "
                "check the delivery report before resending"
            )
        state = _whole(operation, "State", answer.State)
        code = decode(operation, state)
        if code.status == "unknown":
            raise OutcomeUnknown(f"{operation}: {code}; check the delivery report before resending")
        listed = [p for p in (answer.FailPhone or "").split(";") if p]
        batch_id = None if answer.Id is None else _whole(operation, "Id", answer.Id)
        return SendResult(
            operation=operation,
            state=state,
            status=code.status,
            meaning=code.en,
            batch_id=batch_id or None,
            failed_phones=[] if code.value == -13 else listed,
            keywords=listed if code.value == -13 else [],
        )

    def _call(self, operation: str, **params):
        try:
            return self._request(operation, **params)
        except SmsError as error:
            # "from None" hides the original error but keeps it as __context__; it may
            # quote the request, password included (a server echoing it in an error page).
            error.__context__ = None
            raise

    def _request(self, operation: str, **params):
        started = time.monotonic()
        try:
            answer = getattr(self.service, operation)(Id=self.account_id, Name=self.name, **params)
        except requests.exceptions.ConnectTimeout:
            raise ProviderUnavailable(
                f"{operation}: timed out connecting to the provider; nothing was sent, "
                "it is safe to try again"
            ) from None
        except requests.exceptions.ConnectionError as error:
            reason = getattr(error.args[0], "reason", None) if error.args else None
            if isinstance(reason, NewConnectionError | ConnectTimeoutError):
                raise ProviderUnavailable(
                    f"{operation}: cannot reach the provider ({self.scrub(reason, params)}); "
                    "nothing was sent, it is safe to try again"
                ) from None
            raise OutcomeUnknown(
                f"{operation}: the connection dropped after the request was sent, before "
                f"an answer came ({_kind(error)}); it may have been processed",
                transport=True,
            ) from None
        except requests.exceptions.Timeout:
            raise OutcomeUnknown(
                f"{operation}: no answer within {self._transport.operation_timeout} s; "
                "the request may have been processed",
                transport=True,
            ) from None
        except (zeep.exceptions.ValidationError, ValueError, TypeError) as error:
            # Raised while building the envelope (e.g. a control character lxml cannot
            # write): the request never left.
            raise InvalidRequest(
                f"{operation}: invalid request, nothing sent: {self.scrub(error, params)}"
            ) from None
        except zeep.exceptions.TransportError as error:
            raise OutcomeUnknown(
                f"{operation}: the provider's answer could not be read: it answered HTTP "
                f"{_http_status(error.status_code)} instead of a SOAP answer; the request "
                "may have been processed",
                transport=True,
            ) from None
        except _UNREADABLE as error:
            raise OutcomeUnknown(
                f"{operation}: the provider's answer could not be read "
                f"({self.scrub(error, params)}); "
                "the request may have been processed",
                transport=True,
            ) from None
        log.debug("%s answered in %.1f ms", operation, (time.monotonic() - started) * 1000)
        return answer

    def scrub(self, error: object, params: dict | None = None) -> str:
        """``error`` as text, at most 300 characters, every password in it masked."""
        text = str(error)
        params = params or {}
        for secret in (self._password.reveal(), *(params.get(k) for k in _SECRET_PARAMS)):
            if secret:
                text = text.replace(secret, MASK)
        return text[:300]


def _whole(operation: str, field: str, value: object) -> int:
    """``value`` of an answer's ``field``, which must be a whole number: any other
    (text, 1.0, nil, missing: zeep gives None) is a protocol error, and the request may
    have been processed."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise OutcomeUnknown(
        f"{operation}: the provider's answer has no whole number in {field} ({value!r}): "
        "it does not follow the protocol, and the request may have been processed; check "
        "with the provider before trying again"
    )


def china_time(at: datetime) -> str:
    """``at`` as the provider's wall-clock time: naive is China Standard Time already."""
    if not isinstance(at, datetime):
        raise TypeError(f"at must be a datetime, got {type(at).__name__}")
    if at.tzinfo is not None:
        at = at.astimezone(CHINA)
    return at.strftime(SCHEDULE_FORMAT)


def _timestamp(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"timestamp must be a non-negative int (seconds since 1970), got {value!r}"
        )
    return value


def _http_status(code: int) -> str:
    """``500 (Internal Server Error)``."""
    try:
        return f"{code} ({http.HTTPStatus(code).phrase})"
    except ValueError:
        return str(code)


def _kind(error: BaseException) -> str:
    """What went wrong with a connection, in words, from the innermost cause's name."""
    inner: BaseException = error
    for arg in getattr(error, "args", ()):
        if isinstance(arg, BaseException):
            inner = arg
    while inner.args and isinstance(inner.args[-1], BaseException):
        inner = inner.args[-1]
    words = {
        "RemoteDisconnected": "the provider closed the connection without answering",
        "ConnectionResetError": "the connection was reset",
        "IncompleteRead": "the answer was cut short",
        "ProtocolError": "the answer broke the HTTP protocol",
    }
    return words.get(type(inner).__name__, type(inner).__name__)
