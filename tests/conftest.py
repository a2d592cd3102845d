"""Shared fixtures: a running simulator, clients on it (raw zeep, and smsframe's), raw
SOAP helpers, a campaign journal.

Every test talks to the simulator over real HTTP on 127.0.0.1. The helpers are
fixtures that return functions, so test modules never import from this file (the
shared contact lists are in tests/frames.py).

A test module whose simulator or client differs from the ordinary one says how with a
marker, never by redefining ``sim`` or ``sms_client``::

    pytestmark = [
        pytest.mark.sim((101, "demo", "my-pw"), (102, "other", "my-pw"), balance=100_000,
                        latency_ms=5),
        pytest.mark.sms_client(timeout=5, operation_timeout=5),
    ]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from xml.sax.saxutils import escape

import pytest
import requests
import zeep
import zeep.cache
from lxml import etree
from zeep.transports import Transport

from smsframe import SmsClient
from smsframe.journal import Journal
from smsframe.simulator import Simulator

TNS = "http://tempuri.org/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

ACCOUNT_ID, NAME, PASSWORD = 101, "demo", "secret"
START_BALANCE = 1000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sim(*accounts, balance=1000, **options): the accounts (Id, Name, Psw) the sim "
        "fixture opens, each with balance, and the Simulator's options (latency_ms=...). "
        "Default: 101/demo/secret. The first account is auth, the one sms_client uses.",
    )
    config.addinivalue_line(
        "markers",
        "sms_client(**options): the SmsClient options of the sms_client fixture "
        "(timeout=..., operation_timeout=...).",
    )


@pytest.fixture(autouse=True)
def fresh_wsdl_cache() -> None:
    """zeep's WSDL cache is the process's, keyed by URL. The system gives a closed
    simulator's port to a later one, so a test would find an earlier test's WSDL cached
    for its own URL (and, say, no fetch to count, or a provider that is gone but whose
    description still loads). Every test starts with an empty cache."""
    zeep.cache.InMemoryCache._cache.clear()


@pytest.fixture(autouse=True)
def own_user_data(tmp_path_factory, monkeypatch) -> None:
    """Every test (and the processes it starts) has a user data directory of its own:
    the default journal never lands in the real one, nor in a test's working directory."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("user-data")))
    monkeypatch.delenv("SMSFRAME_JOURNAL", raising=False)
    monkeypatch.delenv("SMSFRAME_QUIET_HOURS", raising=False)  # a team's default: off here


def _marked(request: pytest.FixtureRequest, name: str) -> tuple[tuple, dict]:
    """The arguments of the closest ``name`` marker of the test: (args, kwargs)."""
    marker = request.node.get_closest_marker(name)
    return (marker.args, dict(marker.kwargs)) if marker else ((), {})


def _accounts(request: pytest.FixtureRequest) -> tuple[tuple[int, str, str], ...]:
    accounts, _ = _marked(request, "sim")
    return accounts or ((ACCOUNT_ID, NAME, PASSWORD),)


@pytest.fixture
def auth(request) -> tuple[int, str, str]:
    """The account ``sim`` opens first (101/demo/secret unless marked): (Id, Name, Psw)."""
    return _accounts(request)[0]


@pytest.fixture
def sim(request) -> Iterator[Simulator]:
    """An in-memory simulator on a free port with account 101/demo/secret, Balance 1000;
    or the accounts, balance and options of the test's ``sim`` marker."""
    _, options = _marked(request, "sim")
    balance = options.pop("balance", START_BALANCE)
    with Simulator(**options) as simulator:
        for account in _accounts(request):
            simulator.add_account(*account, balance=balance)
        yield simulator


@pytest.fixture
def make_sms_client(sim: Simulator, auth: tuple[int, str, str]) -> Callable[..., SmsClient]:
    """``make_sms_client(**options)``: an ``SmsClient`` for ``auth`` on ``sim``, with
    the given options (``operation_timeout=0.5``)."""

    def make(**options: object) -> SmsClient:
        return SmsClient(sim.wsdl_url, *auth, **options)

    return make


@pytest.fixture
def sms_client(request, make_sms_client: Callable[..., SmsClient]) -> SmsClient:
    """An ``SmsClient`` for ``auth`` on ``sim``; options from the ``sms_client`` marker."""
    _, options = _marked(request, "sms_client")
    return make_sms_client(**options)


def _zeep_client(
    simulator: Simulator, timeout: float = 10, operation_timeout: float = 10
) -> zeep.Client:
    transport = Transport(timeout=timeout, operation_timeout=operation_timeout)
    return zeep.Client(simulator.wsdl_url, transport=transport)


@pytest.fixture
def make_zeep_client() -> Callable[..., zeep.Client]:
    """``make_zeep_client(sim, timeout=10, operation_timeout=10)``: a fresh zeep client."""
    return _zeep_client


@pytest.fixture
def zeep_client(sim: Simulator) -> zeep.Client:
    """A raw zeep client on ``sim``."""
    return _zeep_client(sim)


@pytest.fixture
def service(zeep_client: zeep.Client):
    """The zeep service proxy of ``sim``: ``service.UserLogin(101, "demo", "secret")``."""
    return zeep_client.service


def _envelope(operation: str, **params: object) -> str:
    """A SOAP 1.1 request for ``operation``; parameters in the given order, ``None`` left out."""
    fields = "".join(
        f"<{name}>{escape(str(value))}</{name}>"
        for name, value in params.items()
        if value is not None
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<{operation} xmlns="{TNS}">{fields}</{operation}>'
        "</soap:Body></soap:Envelope>"
    )


@pytest.fixture
def envelope() -> Callable[..., str]:
    """``envelope("UserLogin", Id=101, Name="demo", Psw="secret")`` -> request XML text."""
    return _envelope


def _raw_post(
    simulator: Simulator,
    xml: str | bytes,
    *,
    action: str = "",
    timeout: float = 10,
    content_type: str = "text/xml; charset=utf-8",
) -> requests.Response:
    data = xml.encode() if isinstance(xml, str) else xml
    headers = {"Content-Type": content_type, "SOAPAction": f'"{action}"'}
    return requests.post(simulator.url, data=data, headers=headers, timeout=timeout)


@pytest.fixture
def raw_post() -> Callable[..., requests.Response]:
    """``raw_post(sim, xml, action="", timeout=10)``: POST bytes/text as-is to the endpoint."""
    return _raw_post


def _raw_result(response: requests.Response, operation: str) -> int | dict | None:
    """The ``<operation>Result`` of a raw answer: an int, a dict of str fields, or None."""
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    answer = root.find(f"{{{SOAP_ENV}}}Body/{{{TNS}}}{operation}Response")
    assert answer is not None, response.text
    result = answer.find(f"{{{TNS}}}{operation}Result")
    if result is None:
        return None
    if len(result):
        return {etree.QName(child).localname: child.text or "" for child in result}
    return int(result.text)


@pytest.fixture
def raw_result() -> Callable[[requests.Response, str], int | dict | None]:
    return _raw_result


def _soap_fault(response: requests.Response) -> tuple[str, str]:
    """(faultcode, faultstring) of an HTTP 500 SOAP 1.1 Fault envelope; asserts its shape."""
    assert response.status_code == 500, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, response.text
    code, string = fault.findtext("faultcode"), fault.findtext("faultstring")
    assert code and string, response.text
    return code, string


@pytest.fixture
def soap_fault() -> Callable[[requests.Response], tuple[str, str]]:
    return _soap_fault


@pytest.fixture
def journal(tmp_path) -> Iterator[Journal]:
    """A new campaign journal in a SQLite file of the test's own."""
    journal = Journal(f"sqlite:///{tmp_path / 'journal.sqlite'}")
    yield journal
    journal.close()


# -- system programs -----------------------------------------------------------------


def missing_program(reason: str) -> None:
    """A test needs a system program that is not here: it skips with ``reason`` on a
    developer's machine, and fails under CI (``CI`` set), where .ci/run installs it."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def require_program() -> Callable[[str], None]:
    """``require_program(reason)``: :func:`missing_program`, for test modules."""
    return missing_program


# -- PostgreSQL (tests/postgres.py) ------------------------------------------------


def _postgres_server(durable: bool = False):
    import postgres

    try:
        return postgres.Server(durable=durable).start()
    except postgres.Unavailable as error:
        missing_program(f"PostgreSQL unavailable: {str(error).splitlines()[0]}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a database on a throwaway PostgreSQL server, started once per
    session (Unix socket in a temp dir, no TCP) and stopped at the end, also on failure.
    Without the PostgreSQL binaries: skipped, or failed under CI."""
    server = _postgres_server()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def killable_postgres():
    """A PostgreSQL server of the test's own, whose commits survive :meth:`kill`
    (``pg_ctl -m immediate``) and :meth:`restart`, for journal outages."""
    server = _postgres_server(durable=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a new empty database on the ``postgres_url`` server, for one test."""
    import postgres

    name, url = postgres.create_database(postgres_url)
    try:
        yield url
    finally:
        postgres.drop_database(postgres_url, name)
