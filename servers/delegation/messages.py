"""Server-to-server delegation messages: a typed model, and one XML codec held to the XSD.

Every message is an envelope (the delegation it belongs to, sender, receiver, a
per-sender sequence number and when it was sent) around one body, named as in the
delegation specification. Decoding validates against `delegation.xsd` before anything
else looks at the document, so a message that fails the schema never reaches a state
machine. The media type is `application/vnd.dm.delegation+xml`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from pathlib import Path

from lxml import etree

MEDIA_TYPE = "application/vnd.dm.delegation+xml"
NAMESPACE = "urn:dmlab:delegation:1.0"
TNDS_NAMESPACE = "syncml:dmddf1.2"
MAX_MESSAGE = 256 * 1024
_SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("delegation.xsd"))))
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)


class MessageError(ValueError):
    """A delegation message that is not well-formed or fails the schema."""


class Kind(StrEnum):
    NOTIF = "DELEGATION_NOTIF"
    RES = "DELEGATION_RES"
    START = "DELEGATION_START"
    BOOTSTRAP_URL_REQUEST = "BOOTSTRAP_URL_REQUEST"
    BOOTSTRAP_URL_RESPONSE = "BOOTSTRAP_URL_RESPONSE"
    PREPARED = "DELEGATION_PREPARED"
    FAILURE = "DELEGATION_FAILURE"
    CONFIRM = "DELEGATION_CONFIRM"


class DelType(StrEnum):
    FULL = "Full"
    PARTIAL = "Partial"


class Reason(IntEnum):
    """DELEGATION_FAILURE reason codes (the specification leaves them TBD).

    1xx: the peers disagree; 2xx: the client; 3xx: the link between servers;
    4xx: a message that cannot be trusted; 5xx: our own fault.
    """

    REFUSED = 101            # a nack, or the operator cancelled
    UNKNOWN_DEVICE = 102     # the device is not managed by the delegating server
    UNSUPPORTED = 103        # a method, type or path the peer does not do
    CLIENT_REFUSED = 201     # the handset answered a preparation command with a failure
    CLIENT_UNREACHABLE = 202  # no DM session with the handset (package 0, network, auth)
    BOOTSTRAP_FAILED = 203   # the handset's bootstrap fetch did not install the account
    PEER_UNREACHABLE = 301   # the other server did not answer
    TIMEOUT = 302            # the step-9 wait of methods 3 and 4 ran out
    BAD_MESSAGE = 401        # a message failed the schema or came out of order
    WRONG_SENDER = 402       # the message's sender is not the authenticated peer
    INTERNAL = 500           # a fault in this server; nothing it did is kept


@dataclass(frozen=True, slots=True)
class DelInfo:
    dev_id: str
    paths: tuple[str, ...]
    man: str | None = None
    mod: str | None = None
    notification_address: str | None = None


@dataclass(frozen=True, slots=True)
class Notif:
    server_id: str  # DMServerID: the initiating server
    info: DelInfo
    type: DelType
    method: int


@dataclass(frozen=True, slots=True)
class Res:
    ack: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Start:
    dmacc: str  # DMS-2's account as a TNDS MgmtTree document


@dataclass(frozen=True, slots=True)
class BootstrapUrlRequest:
    pass


@dataclass(frozen=True, slots=True)
class BootstrapUrlResponse:
    url: str


@dataclass(frozen=True, slots=True)
class Prepared:
    pass


@dataclass(frozen=True, slots=True)
class Failure:
    code: Reason | int  # a code outside our table is kept as it came
    text: str
    step: int | None = None


@dataclass(frozen=True, slots=True)
class Confirm:
    session_id: str


Body = (Notif | Res | Start | BootstrapUrlRequest | BootstrapUrlResponse | Prepared | Failure
        | Confirm)

KIND_OF: dict[type, Kind] = {
    Notif: Kind.NOTIF, Res: Kind.RES, Start: Kind.START,
    BootstrapUrlRequest: Kind.BOOTSTRAP_URL_REQUEST,
    BootstrapUrlResponse: Kind.BOOTSTRAP_URL_RESPONSE, Prepared: Kind.PREPARED,
    Failure: Kind.FAILURE, Confirm: Kind.CONFIRM,
}


@dataclass(frozen=True, slots=True)
class Message:
    delegation_id: str
    sender: str
    receiver: str
    sequence: int
    body: Body
    sent: datetime.datetime = field(
        default_factory=lambda: datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))

    @property
    def kind(self) -> Kind:
        return KIND_OF[type(self.body)]


# ------------------------------------------------------------------ encoding

def _e(parent: etree._Element, name: str, text: object | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        el.text = str(text)
    return el


def encode(message: Message) -> bytes:
    root = etree.Element(f"{{{NAMESPACE}}}Delegation", nsmap={None: NAMESPACE},
                         version="1.0")
    _e(root, "DelegationID", message.delegation_id)
    _e(root, "Sender", message.sender)
    _e(root, "Receiver", message.receiver)
    _e(root, "Sequence", message.sequence)
    _e(root, "Sent", message.sent.astimezone(datetime.timezone.utc)
       .isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    body = _e(root, message.kind.value)
    match message.body:
        case Notif(server_id, info, del_type, method):
            _e(body, "DMServerID", server_id)
            di = _e(body, "DelInfo")
            _e(di, "DevId", info.dev_id)
            for name, value in (("Man", info.man), ("Mod", info.mod),
                                ("NotificationAddress", info.notification_address)):
                if value is not None:
                    _e(di, name, value)
            for path in info.paths:
                _e(di, "Path", path)
            _e(body, "DelType", del_type.value)
            _e(body, "Method", method)
        case Res(ack, reason):
            _e(body, "Ack", "true" if ack else "false")
            if reason is not None:
                _e(body, "Reason", reason)
        case Start(dmacc):
            holder = _e(body, "DMAcc")
            try:
                holder.append(etree.fromstring(dmacc.encode(), _PARSER))
            except etree.XMLSyntaxError as exc:
                raise MessageError(f"DMAcc is not a TNDS document: {exc}") from None
        case BootstrapUrlResponse(url):
            _e(body, "URL", url)
        case Failure(code, text, step):
            _e(body, "Code", int(code))
            if step is not None:
                _e(body, "Step", step)
            _e(body, "Text", text)
        case Confirm(session_id):
            _e(body, "SessionID", session_id)
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    _validate(etree.fromstring(data, _PARSER))
    return data


# ------------------------------------------------------------------ decoding

def decode(data: bytes) -> Message:
    """Parse and validate one message; MessageError (one line) on anything wrong."""
    if len(data) > MAX_MESSAGE:
        raise MessageError(f"message of {len(data)} bytes is over the {MAX_MESSAGE}-byte limit")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MessageError(f"not well-formed XML: {exc}") from None
    doc = root.getroottree().docinfo
    if doc.internalDTD is not None or doc.doctype:
        raise MessageError("DTDs are not allowed in delegation messages")
    _validate(root)
    body_el = root[5]
    text = _texts(root)
    kind = Kind(etree.QName(body_el).localname)
    return Message(text["DelegationID"], text["Sender"], text["Receiver"],
                   int(text["Sequence"]), _body(kind, body_el),
                   datetime.datetime.fromisoformat(text["Sent"].replace("Z", "+00:00")))


def _validate(root: etree._Element) -> None:
    if not _SCHEMA.validate(root):
        error = _SCHEMA.error_log.last_error
        raise MessageError(f"fails the delegation schema: {error.message} (line {error.line})")


def _texts(el: etree._Element) -> dict[str, str]:
    return {etree.QName(c).localname: (c.text or "").strip() for c in el if len(c) == 0}


def _body(kind: Kind, el: etree._Element) -> Body:
    text = _texts(el)
    if kind is Kind.NOTIF:
        di = el.find(f"{{{NAMESPACE}}}DelInfo")
        info_text = _texts(di)
        info = DelInfo(dev_id=info_text["DevId"],
                       paths=tuple((p.text or "").strip()
                                   for p in di.findall(f"{{{NAMESPACE}}}Path")),
                       man=info_text.get("Man"), mod=info_text.get("Mod"),
                       notification_address=info_text.get("NotificationAddress"))
        return Notif(text["DMServerID"], info, DelType(text["DelType"]), int(text["Method"]))
    if kind is Kind.RES:
        return Res(text["Ack"] in ("true", "1"), text.get("Reason"))
    if kind is Kind.START:
        tree = el.find(f"{{{NAMESPACE}}}DMAcc")[0]
        return Start(etree.tostring(tree, encoding="unicode"))
    if kind is Kind.BOOTSTRAP_URL_RESPONSE:
        return BootstrapUrlResponse(text["URL"])
    if kind is Kind.FAILURE:
        number = int(text["Code"])
        code = Reason(number) if number in Reason._value2member_map_ else number
        return Failure(code, text["Text"], int(text["Step"]) if "Step" in text else None)  # type: ignore[arg-type]
    if kind is Kind.CONFIRM:
        return Confirm(text["SessionID"])
    return BootstrapUrlRequest() if kind is Kind.BOOTSTRAP_URL_REQUEST else Prepared()
