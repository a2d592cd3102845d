"""SmsClient against a hostile server: every nasty answer is refused quickly, in bounded memory.

The server below serves the simulator's own WSDL (pointing at itself), so the client
loads normally; then every POST gets the answer the test chose.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import socket
import threading
import time
import tracemalloc
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
import zeep.cache

import smsframe  # noqa: F401 - registers df.sms
from smsframe.client import SmsClient, refuse_other_host
from smsframe.errors import OutcomeUnknown, ProviderUnavailable, SmsError, UntrustedHost
from smsframe.simulator import soap

MB = 1024 * 1024
CHUNK = b" " * 65536  # one preallocated chunk: the server itself stays small
MARKER = "MARKER-6b0d1f2e-never-to-be-read"
PASSWORD = "Hostile-Test-Password-51c9a07e"

ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soap:Body><SendMessageResponse xmlns="http://tempuri.org/"><SendMessageResult>'
    "<FailPhone>{fail_phone}</FailPhone><Id>1</Id><State>1</State>"
    "</SendMessageResult></SendMessageResponse></soap:Body></soap:Envelope>"
)


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?><!DOCTYPE lolz ['
        + "".join(entities)
        + "]>"
        + ENVELOPE.format(fail_phone="&lol9;")
    ).encode()


def quadratic_blowup() -> bytes:
    big = "A" * 100_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "{big}">]>'
        + ENVELOPE.format(fail_phone="&a;" * 5_000)
    ).encode()


def external_entity(url: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY xxe SYSTEM "{url}">]>'
        + ENVELOPE.format(fail_phone="&xxe;")
    ).encode()


def external_dtd(url: str) -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE s SYSTEM "{url}">' + ENVELOPE).encode()


def xinclude(url: str) -> bytes:
    return ENVELOPE.format(
        fail_phone=f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}" '
        'parse="text"/>'
    ).encode()


def deep_nesting() -> bytes:
    return ENVELOPE.format(fail_phone="<a>" * 100_000 + "</a>" * 100_000).encode()


def gzip_bomb() -> bytes:
    """100 MB of spaces, about 100 KB compressed."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as packed:
        for _ in range(100 * MB // len(CHUNK)):
            packed.write(CHUNK)
    return out.getvalue()


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answer = None  # a callable(handler, request body) set per test
    seen: list[str]  # request lines, set per server
    stop: threading.Event

    def log_message(self, format, *args):
        self.seen.append(self.requestline)

    address = None  # the service address the WSDL names (default: this server)
    redirect = None  # where a GET of the WSDL is redirected (default: nowhere)

    def do_GET(self):
        if self.redirect is not None:
            self.send(b"", 302, Location=self.redirect)
        elif self.path.endswith("?wsdl"):
            port = self.server.server_address[1]
            address = self.address or f"http://127.0.0.1:{port}/Service.asmx"
            self.send(soap.wsdl(address).encode())
        else:  # an external reference the client must never follow
            self.send(f"<x>{MARKER}</x>".encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with contextlib.suppress(OSError):  # the client hangs up on us: that is the point
            type(self).answer(self, body)

    def send(self, body: bytes, status: int = 200, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        fields = {"Content-Length": str(len(body))}
        fields.update({name.replace("_", "-"): value for name, value in headers.items()})
        for name, value in fields.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def stream(self, total: int, *, length: bool, chunked: bool = False) -> None:
        """``total`` bytes of body, 64 KiB at a time, never held in memory at once."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        if length:
            self.send_header("Content-Length", str(total))
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        for _ in range(total // len(CHUNK)):
            if self.stop.is_set():
                return
            if chunked:
                self.wfile.write(b"10000\r\n" + CHUNK + b"\r\n")
            else:
                self.wfile.write(CHUNK)

    def trickle(self, head: bytes = b"") -> None:
        """``head`` then one byte every 0.2 s, forever (until the client or the test leaves)."""
        self.close_connection = True
        self.wfile.write(head)
        while not self.stop.is_set():
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(0.2)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client hanging up on a hostile answer is what the tests want


@pytest.fixture
def hostile():
    # zeep's WSDL cache is process-wide and keyed by URL: a port reused by an earlier
    # server must not hand this one that server's (harmless) WSDL.
    zeep.cache.InMemoryCache._cache.clear()
    handler = type("Handler", (Hostile,), {"seen": [], "stop": threading.Event()})
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    server.handler = handler
    server.wsdl_url = f"http://127.0.0.1:{server.server_address[1]}/Service.asmx?wsdl"
    yield server
    handler.stop.set()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def marker_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(MARKER)
    return path


def refused(server, answer, *, operation_timeout: float = 5.0, budget_s: float = 3.0):
    """Call SendMessage against ``answer``; returns the OutcomeUnknown raised, the time it
    took and the peak of traced memory during the call."""
    server.handler.answer = answer
    client = SmsClient(server.wsdl_url, 1, "name", PASSWORD, operation_timeout=operation_timeout)
    client.service  # noqa: B018 - the WSDL is loaded before we measure
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(OutcomeUnknown) as raised:
            client.send("您好", ["13800138000"], timestamp=1)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < budget_s, f"took {elapsed:.1f} s"
    text = _everything(raised.value)
    assert MARKER not in text and PASSWORD not in text
    assert "may have been processed" in str(raised.value)
    return raised.value, elapsed, peak


def _everything(error: BaseException) -> str:
    """str and repr of an exception and of every one in its cause/context chain."""
    parts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts += [str(error), repr(error), repr(getattr(error, "args", ""))]
        error = error.__cause__ or error.__context__
    return "\n".join(parts)


# -- XML bombs and external references -------------------------------------------------
@pytest.mark.parametrize("document", [billion_laughs, quadratic_blowup, deep_nesting])
def test_xml_bombs_are_refused_quickly_in_bounded_memory(hostile, document):
    body = document()
    _, _, peak = refused(hostile, lambda h, _: h.send(body), budget_s=2)
    assert peak < 20 * MB


@pytest.mark.parametrize("scheme", ["file", "http"])
@pytest.mark.parametrize("make", [external_entity, external_dtd])
def test_external_entities_and_dtds_are_never_followed(hostile, marker_file, make, scheme):
    url = marker_file.as_uri() if scheme == "file" else hostile.wsdl_url.replace("?wsdl", "/x")
    refused(hostile, lambda h, _: h.send(make(url)), budget_s=2)
    assert not any("/x" in line.split()[1] for line in hostile.handler.seen if "GET" in line)


def test_xinclude_is_not_processed(hostile, marker_file):
    hostile.handler.answer = lambda h, _: h.send(xinclude(marker_file.as_uri()))
    client = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD, operation_timeout=5)
    try:
        result = client.send("您好", ["13800138000"], timestamp=1)
    except SmsError as error:
        assert MARKER not in _everything(error)
    else:
        assert MARKER not in repr(result)


# -- huge and slow answers ---------------------------------------------------------------
@pytest.mark.parametrize(
    "framing",
    [
        {"length": True},  # declared up front: refused on the headers
        {"length": False},  # read until the server closes
        {"length": False, "chunked": True},
    ],
    ids=["content-length", "until-close", "chunked"],
)
def test_a_100_mb_answer_is_refused_quickly_in_bounded_memory(hostile, framing):
    error, _, peak = refused(hostile, lambda h, _: h.stream(100 * MB, **framing))
    assert "bytes" in str(error)
    assert peak < 20 * MB, f"peak {peak / MB:.1f} MB"


def test_a_gzip_bomb_is_refused_in_bounded_memory(hostile):
    bomb = gzip_bomb()
    answer = lambda h, _: h.send(bomb, Content_Encoding="gzip")  # noqa: E731
    _, _, peak = refused(hostile, answer)
    assert peak < 20 * MB, f"peak {peak / MB:.1f} MB"


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(
    "head", [HEAD, HEAD.replace(b"close", b"close\r\nContent-Length: 5000"), b"HTTP/1.1 2", b""]
)
def test_a_slow_trickle_is_cut_at_the_operation_timeout(hostile, head):
    error, elapsed, _ = refused(
        hostile, lambda h, _: h.trickle(head), operation_timeout=2, budget_s=4.5
    )
    assert elapsed >= 1.9
    # Our deadline cut it, not the provider: the error says so, whichever part was late.
    assert "closed the connection" not in str(error)
    assert "within 2 s" in str(error) or "still arriving after 2 s" in str(error)


def test_an_answer_that_stalls_midway_is_outcome_unknown(hostile):
    def stall(handler, _):
        handler.send(b"<soap:Envelope", Content_Length="5000")
        handler.stop.wait(5)

    _, elapsed, _ = refused(hostile, stall, operation_timeout=1, budget_s=3)
    assert elapsed >= 0.9


def test_an_answer_cut_midway_is_outcome_unknown(hostile):
    def cut(handler, _):
        handler.close_connection = True
        handler.send(b"<soap:Envelope", Content_Length="5000")
        handler.connection.shutdown(socket.SHUT_RDWR)

    refused(hostile, cut, budget_s=2)


def echo(handler, body):
    handler.send(b"<html>you sent: " + body + b"</html>", 500)


def test_an_error_page_echoing_the_request_does_not_leak_the_password(hostile):
    refused(hostile, echo, budget_s=2)


def test_an_echoed_password_change_leaks_neither_password(hostile):
    hostile.handler.answer = echo
    client = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD)
    with pytest.raises(OutcomeUnknown) as raised:
        client.update_password("Hostile-New-Password-0e2b")
    text = _everything(raised.value)
    assert "Hostile-New-Password-0e2b" not in text and PASSWORD not in text


def test_a_hostile_wsdl_is_refused(hostile):
    def bomb_wsdl(handler):
        handler.send(billion_laughs())

    hostile.handler.do_GET = bomb_wsdl
    client = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        client.login()
    assert time.monotonic() - started < 2


# -- credentials only to the provider's own host -------------------------------------------
def port_of(server) -> int:
    return server.server_address[1]


@pytest.fixture
def elsewhere():
    """A second server, reached as ``localhost``: another host name than 127.0.0.1."""
    handler = type("Handler", (Hostile,), {"seen": [], "stop": threading.Event()})
    handler.answer = lambda h, _: h.send(ANSWERS["UserLogin"].format(state=1).encode())
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    server.handler = handler
    yield server
    handler.stop.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_wsdl_redirected_to_another_host_is_refused(hostile, elsewhere):
    hostile.handler.redirect = f"http://localhost:{port_of(elsewhere)}/Service.asmx?wsdl"
    client = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD)
    with pytest.raises(UntrustedHost, match=r"another host \(localhost\)") as raised:
        client.login()
    assert "allow_credentials_to_other_hosts=True" in str(raised.value)
    assert PASSWORD not in _everything(raised.value)
    assert elsewhere.handler.seen == []  # not even the WSDL was fetched there
    trusting = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD, **TRUSTING)
    assert trusting.login() == 1  # followed, on purpose
    assert any("POST" in line for line in elsewhere.handler.seen)


def test_a_service_address_on_another_host_is_refused(hostile, elsewhere):
    hostile.handler.address = f"http://localhost:{port_of(elsewhere)}/Service.asmx"
    with pytest.raises(UntrustedHost, match="names its service address"):
        SmsClient(hostile.wsdl_url, 1, "name", PASSWORD).login()
    assert elsewhere.handler.seen == []  # the password never went there
    assert SmsClient(hostile.wsdl_url, 1, "name", PASSWORD, **TRUSTING).login() == 1


def test_a_campaign_with_an_untrusted_provider_sends_nothing(hostile, elsewhere, tmp_path):
    hostile.handler.address = f"http://localhost:{port_of(elsewhere)}/Service.asmx"
    client = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD)
    contacts = pd.DataFrame({"phone": ["13800138000"]})
    with pytest.raises(UntrustedHost):
        contacts.sms.send(client, message="hi", campaign="c", journal=str(tmp_path / "j"))
    assert elsewhere.handler.seen == []


def test_a_redirect_on_the_same_host_is_followed_and_https_to_http_is_not():
    refuse_other_host("http://127.0.0.1:1/a?wsdl", "http://127.0.0.1:2/b?wsdl", "redirects")
    with pytest.raises(UntrustedHost, match="from https to plain http"):
        refuse_other_host("https://sms.example.com/a", "http://sms.example.com/a", "redirects")
    with pytest.raises(UntrustedHost, match="another host"):
        refuse_other_host("https://sms.example.com/a", "https://evil.example.net/a", "x")


TRUSTING = {"allow_credentials_to_other_hosts": True}


# -- answers that do not follow the protocol -----------------------------------------------
def envelope(operation: str, inner: str) -> str:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
        f'<{operation}Response xmlns="http://tempuri.org/"><{operation}Result>{inner}'
        f"</{operation}Result></{operation}Response></soap:Body></soap:Envelope>"
    )


SEND_STATE = "<FailPhone></FailPhone><Id>7</Id>{state}"
ANSWERS = {
    "UserLogin": envelope("UserLogin", "{state}"),
    "UpdatePsw": envelope("UpdatePsw", "{state}"),
    "GetBalance": envelope(
        "GetBalance", "<Balance>100</Balance><Sended>0</Sended>{state}<Totaled>100</Totaled>"
    ),
    **{op: envelope(op, SEND_STATE) for op in ("SendMessage", "SendTimer", "SendMessageExt")},
}
ODD_STATES = {
    "text": "abc",
    "decimal": "1.0",
    "nil": 'xsi:nil="true"',
    "missing": None,
    "wrong type": 'xsi:type="xsd:string"',
}


def odd(operation: str, kind: str) -> str:
    """``operation``'s answer with a State (or result) that is no whole number."""
    value = ODD_STATES[kind]
    if operation in ("UserLogin", "UpdatePsw"):  # the result is the number itself
        inner = {"missing": "", "nil": "", "wrong type": "x1"}.get(kind, value)
        return ANSWERS[operation].replace("{state}", inner)
    if value is None:
        state = ""
    elif value.startswith("xsi:"):
        state = f"<State {value}>{'' if 'nil' in value else 'x1'}</State>"
    else:
        state = f"<State>{value}</State>"
    return ANSWERS[operation].replace("{state}", state)


OPERATION = re.compile(
    rb"<(?:\w+:)?(UserLogin|UpdatePsw|GetBalance|SendMessageExt|SendMessage|SendTimer)\b"
)


def answering(odd_operation: str, kind: str):
    """Good answers (State 1, the account 1) to every operation but ``odd_operation``."""

    def answer(handler, body: bytes) -> None:
        called = OPERATION.search(body.split(b"Body", 1)[1])
        operation = called.group(1).decode()
        if operation == odd_operation:
            text = odd(operation, kind)
        else:
            state = "1" if operation in ("UserLogin", "UpdatePsw") else "<State>1</State>"
            text = ANSWERS[operation].replace("{state}", state)
        handler.send(text.encode())

    return answer


CALLS = {
    "UserLogin": lambda c: c.login(),
    "UpdatePsw": lambda c: c.update_password("Another-Password-77"),
    "GetBalance": lambda c: c.balance(),
    "SendMessage": lambda c: c.send("您好", ["13800138000"], timestamp=1),
    "SendTimer": lambda c: c.schedule("您好", ["13800138000"], at=FUTURE, timestamp=1),
    "SendMessageExt": lambda c: c.send_ext("您好", ["13800138000"], ext="12", timestamp=1),
}
FUTURE = datetime(2035, 1, 1, 9)


@pytest.mark.parametrize("kind", list(ODD_STATES))
@pytest.mark.parametrize("operation", list(CALLS))
def test_a_state_that_is_no_whole_number_is_a_clear_error(hostile, operation, kind):
    hostile.handler.answer = answering(operation, kind)
    client = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD)
    with pytest.raises(OutcomeUnknown) as raised:
        CALLS[operation](client)
    text = str(raised.value)
    assert operation in text
    said = ("no whole number", "empty answer", "could not be read")  # the protocol, in words
    assert any(words in text for words in said) and "connection dropped" not in text, text
    assert PASSWORD not in _everything(raised.value)


@pytest.mark.parametrize("kind", ["text", "missing"])
def test_in_a_campaign_an_odd_state_makes_its_rows_unknown_and_the_result_is_kept(
    hostile, kind, tmp_path
):
    contacts = pd.DataFrame({"phone": [f"1380013{i:04d}" for i in range(40)]})
    client = SmsClient(hostile.wsdl_url, 1, "name", PASSWORD)
    journal = str(tmp_path / "journal.sqlite")
    hostile.handler.answer = answering("SendMessage", kind)
    out = contacts.sms.send(client, message="hi", campaign="c", journal=journal, chunk_size=10)
    assert (out["sms_status"] == "unknown").all()
    assert out["sms_detail"].str.contains("no whole number in State").all()
    # A closing GetBalance that does not follow the protocol: the result is still returned.
    hostile.handler.answer = answering("GetBalance", kind)
    calls = sum("POST" in line for line in hostile.handler.seen)
    with pytest.raises(OutcomeUnknown, match="GetBalance"):  # the pre-flight one: refused
        contacts.sms.send(client, message="hi", campaign="d", journal=journal)
    assert sum("POST" in line for line in hostile.handler.seen) == calls + 1  # the balance
