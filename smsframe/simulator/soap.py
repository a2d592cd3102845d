"""SOAP 1.1 document/literal-wrapped envelopes and the ASMX-shaped WSDL.

The operations table is the one description of the service: the WSDL, the
request decoder and the response encoder are all derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

TNS = "http://tempuri.org/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}

# Complex result types, in the provider's field order.
COMPLEX_TYPES = {
    "BalanceState": (("Balance", "int"), ("Sended", "int"), ("State", "int"), ("Totaled", "int")),
    "SendState": (("FailPhone", "string"), ("Id", "int"), ("State", "int")),
}

_ACCOUNT = (("Id", "int"), ("Name", "string"), ("Psw", "string"))
_SEND = (*_ACCOUNT, ("Message", "string"), ("Phone", "string"))

# operation -> (parameters in order, result type)
OPERATIONS: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "UserLogin": (_ACCOUNT, "int"),
    "UpdatePsw": (
        (("Id", "int"), ("Name", "string"), ("OldPsw", "string"), ("NewPsw", "string")),
        "int",
    ),
    "GetBalance": (_ACCOUNT, "BalanceState"),
    "SendMessage": ((*_SEND, ("Timestamp", "int")), "SendState"),
    "SendTimer": ((*_SEND, ("DateTime", "string"), ("Timestamp", "long")), "SendState"),
    "SendMessageExt": ((*_SEND, ("Timestamp", "int"), ("Ext", "string")), "SendState"),
}


class SoapFault(Exception):
    """A request the service cannot read: answered with a SOAP fault."""

    def __init__(self, message: str, code: str = "soap:Client") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Request:
    operation: str
    params: dict


def _element(name: str, xsd_type: str) -> str:
    # ASMX: value types are required, strings and objects optional.
    required = xsd_type in ("int", "long")
    prefix = "s" if xsd_type in ("int", "long", "string") else "tns"
    occurs = 'minOccurs="1"' if required else 'minOccurs="0"'
    return f'<s:element {occurs} maxOccurs="1" name="{name}" type="{prefix}:{xsd_type}" />'


def wsdl(location: str) -> str:
    """The service description, shaped like the one an ASMX service serves."""
    types, messages, port_ops, binding_ops = [], [], [], []
    for op, (params, result) in OPERATIONS.items():
        fields = "".join(_element(n, t) for n, t in params)
        types.append(
            f'<s:element name="{op}"><s:complexType><s:sequence>{fields}'
            f"</s:sequence></s:complexType></s:element>"
            f'<s:element name="{op}Response"><s:complexType><s:sequence>'
            f"{_element(op + 'Result', result)}</s:sequence></s:complexType></s:element>"
        )
        messages.append(
            f'<wsdl:message name="{op}SoapIn"><wsdl:part name="parameters" element="tns:{op}" />'
            f'</wsdl:message><wsdl:message name="{op}SoapOut">'
            f'<wsdl:part name="parameters" element="tns:{op}Response" /></wsdl:message>'
        )
        port_ops.append(
            f'<wsdl:operation name="{op}"><wsdl:input message="tns:{op}SoapIn" />'
            f'<wsdl:output message="tns:{op}SoapOut" /></wsdl:operation>'
        )
        binding_ops.append(
            f'<wsdl:operation name="{op}"><soap:operation soapAction="{TNS}{op}" '
            f'style="document" /><wsdl:input><soap:body use="literal" /></wsdl:input>'
            f'<wsdl:output><soap:body use="literal" /></wsdl:output></wsdl:operation>'
        )
    for name, fields in COMPLEX_TYPES.items():
        body = "".join(_element(n, t) for n, t in fields)
        types.append(
            f'<s:complexType name="{name}"><s:sequence>{body}</s:sequence></s:complexType>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:tns="http://tempuri.org/" xmlns:s="http://www.w3.org/2001/XMLSchema" '
        'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" targetNamespace="http://tempuri.org/">'
        '<wsdl:types><s:schema elementFormDefault="qualified" targetNamespace="http://tempuri.org/">'
        f"{''.join(types)}</s:schema></wsdl:types>{''.join(messages)}"
        f'<wsdl:portType name="ServiceSoap">{"".join(port_ops)}</wsdl:portType>'
        '<wsdl:binding name="ServiceSoap" type="tns:ServiceSoap">'
        '<soap:binding transport="http://schemas.xmlsoap.org/soap/http" />'
        f"{''.join(binding_ops)}</wsdl:binding>"
        '<wsdl:service name="Service"><wsdl:port name="ServiceSoap" binding="tns:ServiceSoap">'
        f'<soap:address location="{escape(location)}" /></wsdl:port></wsdl:service>'
        "</wsdl:definitions>"
    )


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True
)


def _decode(text: str | None, xsd_type: str, name: str) -> object:
    if xsd_type == "string":
        return text or ""
    value = (text or "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise SoapFault(f"Server was unable to read request: {name} is not an {xsd_type}") from None
    low, high = INT_RANGE[xsd_type]
    if not low <= number <= high:
        raise SoapFault(f"Server was unable to read request: {name} is out of range")
    return number


_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_BODY = f"{{{SOAP_ENV}}}Body"
_NIL = f"{{{XSI}}}nil"


def _localname(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_request(body: bytes) -> Request:
    """Decode an envelope into the operation and its typed parameters.

    A parameter that is absent or ``xsi:nil`` decodes to ``None``. DTDs and
    entities are refused outright.
    """
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise SoapFault("Server was unable to read request: DTDs are not allowed")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise SoapFault(f"Server was unable to read request: {error}") from None
    if root.tag != _ENVELOPE:
        raise SoapFault("Server was unable to read request: not a SOAP 1.1 envelope")
    body_el = root.find(_BODY)
    calls = [] if body_el is None else [c for c in body_el if isinstance(c.tag, str)]
    if not calls:
        raise SoapFault("Server was unable to read request: the SOAP body is empty")
    tag = calls[0].tag
    operation = _localname(tag)
    if not tag.startswith(f"{{{TNS}}}") or operation not in OPERATIONS:
        raise SoapFault(f"Server did not recognize the operation {operation!r}")
    spec, _ = OPERATIONS[operation]
    given = {_localname(c.tag): c for c in calls[0] if isinstance(c.tag, str)}
    params: dict = {}
    for name, xsd_type in spec:
        element = given.get(name)
        if element is None or element.get(_NIL) in ("true", "1"):
            params[name] = None
        else:
            params[name] = _decode(element.text, xsd_type, name)
    return Request(operation, params)


def _envelope(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:xsi="{XSI}" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soap:Body>{inner}</soap:Body></soap:Envelope>"
    ).encode()


def response(operation: str, result: int | dict | None) -> bytes:
    """The envelope answering ``operation``; ``None`` leaves the result out (a null answer)."""
    if result is None:
        content = ""
    elif isinstance(result, dict):
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in result.items())
        content = f"<{operation}Result>{fields}</{operation}Result>"
    else:
        content = f"<{operation}Result>{int(result)}</{operation}Result>"
    return _envelope(f'<{operation}Response xmlns="{TNS}">{content}</{operation}Response>')


def fault(message: str, code: str = "soap:Client") -> bytes:
    return _envelope(
        f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        "<detail /></soap:Fault>"
    )
