"""A hand-driven DM client for the server tests: each test says what the handset sends,
this builds it on the wire model, posts it to the server and decodes the answer.

It is deliberately not a session engine: it follows no rules by itself, so that tests
can send exactly the messages (right or wrong) they are about.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dmclient.auth import AuthType, basic_cred, hmac_mac, md5_cred, verify_cred, verify_mac
from dmclient.auth.nonce import decode_nonce, encode_nonce
from dmclient.wire import (HMAC_HEADER_NAME, Alert, AlertCode, Atomic, Body, Command, Cred,
                           Encoding, Exec, Header, HmacHeader, Item, Location, Message, Meta,
                           Replace, Results, Sequence, Status, decode, encode)
from servers.dm import DeviceConfig, DMServer, Registry, Reply, ServerConfig

DEVID = "IMEI:358240051111110"
URL = "https://127.0.0.1:8443/dm"
CLIENT_SECRET, SERVER_SECRET = "handset-secret", "dms1-secret"
CLIENT_NONCE, SERVER_NONCE = b"client-nonce-1", b"server-nonce-1"
CLIENT_NONCE_B64, SERVER_NONCE_B64 = "Y2xpZW50LW5vbmNlLTE=", "c2VydmVyLW5vbmNlLTE="

DEVINFO = {"./DevInfo/DevId": DEVID, "./DevInfo/Man": "dmlab", "./DevInfo/Mod": "Virtual Handset 1",
           "./DevInfo/DmV": "1.2", "./DevInfo/Lang": "en-US"}


def device(**changes: object) -> DeviceConfig:
    """The lab's default handset (trees/default.xml), as the server's config names it."""
    fields: dict[str, object] = dict(
        device_id=DEVID, client_auth="DIGEST", client_name=DEVID, client_secret=CLIENT_SECRET,
        client_nonce=CLIENT_NONCE_B64, server_auth="DIGEST", server_name="dms1",
        server_secret=SERVER_SECRET, server_nonce=SERVER_NONCE_B64)
    fields.update(changes)
    return DeviceConfig(**fields)  # type: ignore[arg-type]


def config(*devices: DeviceConfig, **changes: object) -> ServerConfig:
    fields: dict[str, object] = dict(server_id="dms1", url=URL)
    fields.update(changes)
    return ServerConfig(devices=list(devices) or [device()], **fields)  # type: ignore[arg-type]


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def counter(prefix: str) -> Callable[[], bytes]:
    """Deterministic nonces: prefix-1, prefix-2, ..."""
    count = 0

    def make() -> bytes:
        nonlocal count
        count += 1
        return f"{prefix}-{count}".encode()

    return make


def make_server(registry: Registry | None = None, *devices: DeviceConfig,
                clock: Clock | None = None, **changes: object) -> DMServer:
    ids = iter(range(0x1A2B, 0x10000))
    return DMServer(config(*devices, **changes), registry or Registry(), clock=clock or Clock(),
                    make_nonce=counter("srv"), make_session_id=lambda: next(ids))


def walk(commands: Iterable[Command]) -> Iterable[Command]:
    for command in commands:
        yield command
        if isinstance(command, (Atomic, Sequence)):
            yield from walk(command.commands)


def header_status(message: Message) -> Status | None:
    return next((c for c in message.body.commands
                 if isinstance(c, Status) and c.cmd_ref == "0"), None)


def commands_of(message: Message) -> list[Command]:
    """The server's commands (not Status), containers and their children in order."""
    return [c for c in walk(message.body.commands) if not isinstance(c, Status)]


def target(command: Command) -> str:
    item = command.item if isinstance(command, Exec) else command.items[0]  # type: ignore[union-attr]
    return item.target.loc_uri if item.target else ""


@dataclass
class Handset:
    """One session's worth of client messages, with credentials computed as a real
    client would (on the nonce the server's last Chal gave)."""

    server: DMServer
    encoding: Encoding = Encoding.XML
    auth: AuthType | None = AuthType.MD5
    secret: str = CLIENT_SECRET
    nonce: bytes = CLIENT_NONCE
    session_id: str = "5E"
    max_msg_size: int | None = None
    max_obj_size: int | None = None
    content_type: str | None = None
    msg_id: int = 0
    replies: list[Reply] = field(default_factory=list)

    def send(self, commands: list[Command], *, final: bool = True, cred: bool = True,
             headers: dict[str, str] | None = None) -> Message:
        """Post one message; return the server's answer (which must be a SyncML message)."""
        reply = self.post(commands, final=final, cred=cred, headers=headers)
        assert reply.http_status == 200, reply.reason
        message = decode(reply.body)
        status = header_status(message)
        if status is not None and status.chal is not None and status.chal.next_nonce:
            self.nonce = decode_nonce(status.chal.next_nonce)
        return message

    def post(self, commands: list[Command], *, final: bool = True, cred: bool = True,
             headers: dict[str, str] | None = None) -> Reply:
        self.msg_id += 1
        for n, command in enumerate(walk(commands), 1):
            command.cmd_id = str(n)
        meta = None
        if self.msg_id == 1 and (self.max_msg_size or self.max_obj_size):
            meta = Meta(max_msg_size=self.max_msg_size, max_obj_size=self.max_obj_size)
        header = Header(session_id=self.session_id, msg_id=str(self.msg_id),
                        target=Location(loc_uri=URL),
                        source=Location(loc_uri=DEVID, loc_name=DEVID), meta=meta,
                        cred=self._cred() if cred else None)
        body = encode(Message(header=header, body=Body(commands=commands, final=final)),
                      self.encoding)
        extra = dict(headers or {})
        if cred and self.auth is AuthType.MAC:
            extra[HMAC_HEADER_NAME] = str(HmacHeader(
                username=DEVID, mac=hmac_mac(DEVID, self.secret, self.nonce, body)))
        reply = self.server.handle(body, content_type=self.content_type or self.encoding.content_type,
                                   headers=extra)
        self.replies.append(reply)
        return reply

    def _cred(self) -> Cred | None:
        if self.auth is AuthType.BASIC:
            return Cred(meta=Meta(type=self.auth.value, format="b64"),
                        data=basic_cred(DEVID, self.secret))
        if self.auth is AuthType.MD5:
            return Cred(meta=Meta(type=self.auth.value, format="b64"),
                        data=md5_cred(DEVID, self.secret, self.nonce))
        return None

    def package1(self, code: int = AlertCode.CLIENT_INITIATED_MGMT,
                 devinfo: dict[str, str] | None = None) -> list[Command]:
        items = [Item(source=Location(loc_uri=uri), data=value)
                 for uri, value in (devinfo or DEVINFO).items()]
        return [Alert(cmd_id="", code=int(code)), Replace(cmd_id="", items=items)]

    def start(self, code: int = AlertCode.CLIENT_INITIATED_MGMT) -> Message:
        return self.send(self.package1(code))


def reply_status(message: Message, code: int = 212, chal: Meta | None = None) -> Status:
    """The client's Status for the server message's header."""
    header = message.header
    return Status(cmd_id="", msg_ref=header.msg_id, cmd_ref="0", cmd="SyncHdr", code=code,
                  target_refs=[header.target.loc_uri], source_refs=[header.source.loc_uri],
                  chal=chal)


def answer(message: Message, *, header: int | None = 212, codes: dict[str, int] | None = None,
           results: dict[str, str | bytes] | None = None, default: int = 200,
           chal: Meta | None = None) -> list[Command]:
    """The client's answers to a server message: Status for its header (unless header is
    None), Status for each command (by target URI from `codes`, else `default`), and
    Results after the Status of each Get whose target is in `results`."""
    out: list[Command] = []
    if header is not None:
        out.append(reply_status(message, header, chal))
    msg_id = message.header.msg_id
    for command in commands_of(message):
        uri = target(command) if not isinstance(command, (Alert, Atomic, Sequence)) else ""
        code = (codes or {}).get(uri, default)
        out.append(Status(cmd_id="", msg_ref=msg_id, cmd_ref=command.cmd_id,
                          cmd=type(command).__name__, code=code,
                          target_refs=[uri] if uri else []))
        if results and uri in results and type(command).__name__ == "Get":
            out.append(Results(cmd_id="", msg_ref=msg_id, cmd_ref=command.cmd_id,
                               items=[Item(source=Location(loc_uri=uri), data=results[uri])]))
    return out


def server_cred_ok(message: Message, nonce: bytes = SERVER_NONCE, *,
                   expected: AuthType = AuthType.MD5) -> bool:
    cred = message.header.cred
    return cred is not None and verify_cred(
        cred.meta.type if cred.meta else None, cred.data, message.header.source.loc_name,
        expected=expected, user="dms1", secret=SERVER_SECRET, nonce=nonce).name == "OK"


def server_mac_ok(reply: Reply, nonce: bytes) -> bool:
    header = HmacHeader.parse(reply.headers[HMAC_HEADER_NAME])
    return header.username == "dms1" and verify_mac(header.mac, "dms1", SERVER_SECRET, nonce,
                                                    reply.body)


def chal(nonce: bytes, auth: AuthType = AuthType.MD5) -> Meta:
    return Meta(type=auth.value, format="b64", next_nonce=encode_nonce(nonce))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
