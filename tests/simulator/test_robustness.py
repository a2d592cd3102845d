"""Bad input gets a SOAP fault or the documented code, never a hang; the WSDL; suds."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from lxml import etree

pytestmark = pytest.mark.timeout(30)

A = "13800138000"
TS = 1_764_000_000
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tempuri.org/"
OPERATIONS = ("UserLogin", "UpdatePsw", "GetBalance", "SendMessage", "SendTimer", "SendMessageExt")


def still_serving(sim, service):
    assert sim._thread.is_alive()
    assert service.UserLogin(101, "demo", "secret") == 101
    assert sim.deliveries().empty


def soap_text(inner: str) -> str:
    return f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{inner}</soap:Body></soap:Envelope>'


def login_with(id_: str = "101", name: str = "demo", psw: str = "secret") -> str:
    return soap_text(
        f'<UserLogin xmlns="{TNS}"><Id>{id_}</Id><Name>{name}</Name><Psw>{psw}</Psw></UserLogin>'
    )


def send_with(timestamp: str = "1", id_: str = "101", operation: str = "SendMessage") -> str:
    extra = "<DateTime>2099-01-01 00:00:00</DateTime>" if operation == "SendTimer" else ""
    return soap_text(
        f'<{operation} xmlns="{TNS}"><Id>{id_}</Id><Name>demo</Name><Psw>secret</Psw>'
        f"<Message>hi</Message><Phone>{A}</Phone>{extra}<Timestamp>{timestamp}</Timestamp>"
        f"</{operation}>"
    )


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    + soap_text(
        f'<UserLogin xmlns="{TNS}"><Id>101</Id><Name>&lol9;</Name><Psw>secret</Psw></UserLogin>'
    )
)

XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    + soap_text(
        f'<UserLogin xmlns="{TNS}"><Id>101</Id><Name>&xxe;</Name><Psw>secret</Psw></UserLogin>'
    )
)

BAD_REQUESTS = {
    "malformed": b'<soap:Envelope xmlns:soap="' + SOAP_ENV.encode() + b'"><soap:Body><Us',
    "unclosed-tag": login_with().replace("</Psw>", "").encode(),
    "not-xml": b"hello, is this SOAP?",
    "json": b'{"Id": 101, "Name": "demo"}',
    "empty-body": b"",
    "whitespace-body": b"   \n",
    "empty-soap-body": soap_text("").encode(),
    "no-soap-body": f'<soap:Envelope xmlns:soap="{SOAP_ENV}"/>'.encode(),
    "not-an-envelope": f'<UserLogin xmlns="{TNS}"><Id>101</Id></UserLogin>'.encode(),
    "soap-1.2": login_with().replace(SOAP_ENV, "http://www.w3.org/2003/05/soap-envelope").encode(),
    "unknown-operation": soap_text(f'<SendFax xmlns="{TNS}"><Id>101</Id></SendFax>').encode(),
    "wrong-namespace": login_with().replace(TNS, "http://example.com/").encode(),
    "no-namespace": login_with().replace(f' xmlns="{TNS}"', "").encode(),
    "id-abc": login_with(id_="abc").encode(),
    "id-float": login_with(id_="101.0").encode(),
    "id-overflow": login_with(id_="99999999999").encode(),
    "timestamp-x": send_with(timestamp="x").encode(),
    "timestamp-int-overflow": send_with(timestamp=str(2**31)).encode(),
    "timer-timestamp-long-overflow": send_with(str(2**63), operation="SendTimer").encode(),
    "billion-laughs": BILLION_LAUGHS.encode(),
    "billion-laughs-utf16": BILLION_LAUGHS.replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    ).encode("utf-16"),
    "xxe": XXE.encode(),
    "latin1-garbage": bytes(range(128, 256)),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_gets_a_soap_fault(sim, service, raw_post, soap_fault, case):
    started = time.perf_counter()
    response = raw_post(sim, BAD_REQUESTS[case], action="http://tempuri.org/UserLogin")
    assert time.perf_counter() - started < 5
    code, message = soap_fault(response)
    assert code.rpartition(":")[2] == "Client"
    assert "root:" not in message  # nothing of a local file leaks into the answer
    still_serving(sim, service)


def test_unknown_operation_is_named_in_the_fault(sim, raw_post, soap_fault):
    _, message = soap_fault(raw_post(sim, BAD_REQUESTS["unknown-operation"]))
    assert "SendFax" in message


@pytest.mark.parametrize(("case", "field"), [("id-abc", "Id"), ("timestamp-x", "Timestamp")])
def test_wrong_type_fault_names_the_parameter(sim, raw_post, soap_fault, case, field):
    _, message = soap_fault(raw_post(sim, BAD_REQUESTS[case]))
    assert field in message


def test_timer_timestamp_is_a_long(sim, raw_post, raw_result):
    response = raw_post(sim, send_with(timestamp=str(2**40), operation="SendTimer"))
    assert raw_result(response, "SendTimer")["State"] == "1"
    assert sim.deliveries().timestamp.tolist() == [2**40]


def test_entity_payload_is_refused_fast_and_never_expanded(sim, service, raw_post, soap_fault):
    started = time.perf_counter()
    for _ in range(20):
        soap_fault(raw_post(sim, BILLION_LAUGHS))
    assert time.perf_counter() - started < 5
    still_serving(sim, service)


def test_ten_megabyte_message_via_zeep_is_minus_6_quickly(sim, service, auth):
    started = time.perf_counter()
    answer = service.SendMessage(*auth, "长" * 10_000_000, A, TS)
    assert time.perf_counter() - started < 10
    assert answer.State == -6
    assert sim.balance(101) == {"Balance": 1000, "Sended": 0, "Totaled": 1000}
    still_serving(sim, service)


def test_ten_megabyte_raw_body_is_answered_quickly(sim, service, raw_post, raw_result):
    xml = soap_text(
        f'<SendMessageExt xmlns="{TNS}"><Id>101</Id><Name>demo</Name><Psw>secret</Psw>'
        f"<Message>{'x' * (10 * 1024 * 1024)}</Message><Phone>{A}</Phone>"
        "<Timestamp>1</Timestamp><Ext>1</Ext></SendMessageExt>"
    )
    started = time.perf_counter()
    response = raw_post(sim, xml)
    assert time.perf_counter() - started < 10
    assert raw_result(response, "SendMessageExt")["State"] == "-6"
    still_serving(sim, service)


def test_ten_megabyte_phone_list_is_minus_1(sim, service, auth):
    phones = ";".join([A] * 900_000)  # ~10 MB
    answer = service.SendMessage(*auth, "hi", phones, TS)
    assert answer.State == -1
    still_serving(sim, service)


def http(sim, raw: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes over one socket; read the answer until the server closes or times out."""
    host, port = sim.address
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(raw)
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_declared_body_over_the_limit_is_refused_without_reading_it(sim, service):
    started = time.perf_counter()
    answer = http(
        sim,
        b"POST /Service.asmx HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        b"Content-Length: 100000000000\r\n\r\n<soap:Envelope",
    )
    assert time.perf_counter() - started < 4  # the server closed: no wait for the body
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"Fault" in answer
    still_serving(sim, service)


def test_post_without_content_length_is_refused(sim, service):
    answer = http(sim, b"POST /Service.asmx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411")
    still_serving(sim, service)


def test_not_http_at_all_is_refused(sim, service):
    answer = http(sim, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")
    assert b"400" in answer  # an HTTP/0.9-style error page: the request line is unreadable
    still_serving(sim, service)


def settle(sim, connections: int = 1) -> None:
    """Wait until the server has finished with every connection but the zeep client's."""
    deadline = time.monotonic() + 5
    while len(sim._connections) > connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sim._connections) <= connections


def test_truncated_body_then_hang_up_does_not_wedge_the_server(sim, service, capfd):
    host, port = sim.address
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(b"POST /Service.asmx HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n<so")
    still_serving(sim, service)
    settle(sim)
    assert "Traceback" not in capfd.readouterr().err


def test_a_stalled_client_does_not_block_other_callers(sim, service):
    host, port = sim.address
    stalled = socket.create_connection((host, port), timeout=5)
    try:
        stalled.sendall(b"POST /Service.asmx HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        started = time.perf_counter()
        still_serving(sim, service)
        assert time.perf_counter() - started < 1
    finally:
        stalled.close()
    settle(sim)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/Service.asmx"), ("GET", "/other?wsdl"), ("POST", "/other"), ("GET", "/")],
)
def test_other_paths_are_404(sim, service, method, path):
    host, port = sim.address
    response = requests.request(method, f"http://{host}:{port}{path}", data=b"x", timeout=5)
    assert response.status_code == 404
    still_serving(sim, service)


# -- the WSDL --------------------------------------------------------------------------------

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
NS = {"s": XS, "wsdl": WSDL, "soap": WSDL_SOAP}

PARAMETERS = {
    "UserLogin": [("Id", "s:int"), ("Name", "s:string"), ("Psw", "s:string")],
    "UpdatePsw": [
        ("Id", "s:int"),
        ("Name", "s:string"),
        ("OldPsw", "s:string"),
        ("NewPsw", "s:string"),
    ],
    "GetBalance": [("Id", "s:int"), ("Name", "s:string"), ("Psw", "s:string")],
    "SendMessage": [
        ("Id", "s:int"),
        ("Name", "s:string"),
        ("Psw", "s:string"),
        ("Message", "s:string"),
        ("Phone", "s:string"),
        ("Timestamp", "s:int"),
    ],
    "SendTimer": [
        ("Id", "s:int"),
        ("Name", "s:string"),
        ("Psw", "s:string"),
        ("Message", "s:string"),
        ("Phone", "s:string"),
        ("DateTime", "s:string"),
        ("Timestamp", "s:long"),
    ],
    "SendMessageExt": [
        ("Id", "s:int"),
        ("Name", "s:string"),
        ("Psw", "s:string"),
        ("Message", "s:string"),
        ("Phone", "s:string"),
        ("Timestamp", "s:int"),
        ("Ext", "s:string"),
    ],
}
RESULTS = {
    "UserLogin": "s:int",
    "UpdatePsw": "s:int",
    "GetBalance": "tns:BalanceState",
    "SendMessage": "tns:SendState",
    "SendTimer": "tns:SendState",
    "SendMessageExt": "tns:SendState",
}


@pytest.fixture
def wsdl(sim):
    response = requests.get(sim.wsdl_url, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    return etree.fromstring(response.content)


def sequence(node) -> list[tuple[str, str]]:
    return [(e.get("name"), e.get("type")) for e in node.findall("s:sequence/s:element", NS)]


def test_wsdl_has_the_asmx_shape(sim, wsdl):
    assert wsdl.tag == f"{{{WSDL}}}definitions"
    assert wsdl.get("targetNamespace") == TNS
    schema = wsdl.find("wsdl:types/s:schema", NS)
    assert schema.get("targetNamespace") == TNS
    assert schema.get("elementFormDefault") == "qualified"
    elements = {e.get("name"): e for e in schema.findall("s:element", NS)}
    for operation in OPERATIONS:
        assert sequence(elements[operation].find("s:complexType", NS)) == PARAMETERS[operation]
        response = sequence(elements[f"{operation}Response"].find("s:complexType", NS))
        assert response == [(f"{operation}Result", RESULTS[operation])]
    types = {t.get("name"): t for t in schema.findall("s:complexType", NS)}
    assert sequence(types["BalanceState"]) == [
        ("Balance", "s:int"),
        ("Sended", "s:int"),
        ("State", "s:int"),
        ("Totaled", "s:int"),
    ]
    assert sequence(types["SendState"]) == [
        ("FailPhone", "s:string"),
        ("Id", "s:int"),
        ("State", "s:int"),
    ]


def test_wsdl_binding_is_soap_11_document_literal_at_the_served_address(sim, wsdl):
    binding = wsdl.find("wsdl:binding", NS)
    assert binding.find("soap:binding", NS).get("transport") == (
        "http://schemas.xmlsoap.org/soap/http"
    )
    operations = binding.findall("wsdl:operation", NS)
    assert sorted(o.get("name") for o in operations) == sorted(OPERATIONS)
    for operation in operations:
        soap_operation = operation.find("soap:operation", NS)
        assert soap_operation.get("soapAction") == TNS + operation.get("name")
        assert soap_operation.get("style") == "document"
        assert operation.find("wsdl:input/soap:body", NS).get("use") == "literal"
    address = wsdl.find("wsdl:service/wsdl:port/soap:address", NS)
    assert address.get("location") == sim.url


def test_wsdl_query_is_case_insensitive_like_asmx(sim):
    response = requests.get(sim.url + "?WSDL", timeout=5)
    assert response.status_code == 200
    assert b"BalanceState" in response.content


def test_zeep_sees_the_six_operations(zeep_client):
    binding = zeep_client.service._binding
    assert sorted(binding._operations) == sorted(OPERATIONS)


def test_suds_consumes_the_wsdl(sim):
    from suds.client import Client

    suds = Client(sim.wsdl_url, cache=None, timeout=10)
    service = suds.service
    assert service.UserLogin(101, "demo", "secret") == 101
    assert service.UserLogin(101, "demo", "wrong") == -3
    balance = service.GetBalance(101, "demo", "secret")
    assert (balance.Balance, balance.Sended, balance.State, balance.Totaled) == (1000, 0, 101, 1000)
    answer = service.SendMessage(101, "demo", "secret", "来自 suds", f"{A};bad", TS)
    assert (answer.State, answer.FailPhone) == (1, "bad")
    assert answer.Id > 0
    ext = service.SendMessageExt(101, "demo", "secret", "来自 suds", A, TS, "42")
    assert (ext.State, ext.Id) == (1, answer.Id)
    timer = service.SendTimer(101, "demo", "secret", "later", A, "2099-01-01 08:00:00", TS)
    assert timer.State == 1
    assert service.UpdatePsw(101, "demo", "secret", "via-suds") == 1
    assert service.GetBalance(101, "demo", "via-suds").Balance == 997
    log = sim.deliveries()
    assert log.phone.tolist() == [A, A, A]
    assert log.message.tolist() == ["来自 suds", "来自 suds", "later"]
    assert log.ext.tolist()[1] == "42"
