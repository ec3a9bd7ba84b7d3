"""Server messages for driving the client engine step by step, built with dmclient.wire.

The server here is a script: each test says exactly what the server sends, and reads
exactly what the handset answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmclient import wire
from dmclient.auth import hmac_mac, md5_cred
from dmclient.session import ClientSession, Ended, Send
from dmclient.tree import Tree, load_profile
from dmclient.wire import (Body, Cred, Header, Item, Location, Message, Meta, Status,
                           StatusCode as S)

SERVER_URL = "https://127.0.0.1:8443/dm"
DEVID = "IMEI:358240051111110"


def item(target: str, data: object = None, **meta: object) -> Item:
    return Item(target=Location(loc_uri=target), data=data,
                meta=Meta(**meta) if meta else None)


@dataclass
class Script:
    session: ClientSession
    server_nonce: bytes = b"server-nonce-1"
    msg_id: int = 0
    sent: list[Send] = field(default_factory=list)
    encoding: wire.Encoding = wire.Encoding.XML

    @classmethod
    def start(cls, tree: Tree | None = None, **options: object) -> "Script":
        session = ClientSession(tree or Tree(load_profile("default")), "dms1", **options)
        script = cls(session)
        script.sent.append(session.start())
        return script

    @property
    def last(self) -> Message:
        return wire.decode(self.sent[-1].body)

    def message(self, commands: list, *, final: bool = True, code: int = S.AUTHENTICATED,
                cred: bool = True, session_id: str | None = None,
                meta: Meta | None = None) -> bytes:
        """A server message answering the handset's last one: header Status, then commands."""
        self.msg_id += 1
        last = self.last
        header_status = Status(cmd_id="1", msg_ref=last.header.msg_id, cmd_ref="0",
                               cmd="SyncHdr", code=int(code))
        numbered = _number(commands, iter(range(2, 10_000)))
        header = Header(session_id=session_id or self.session.session_id,
                        msg_id=str(self.msg_id), target=Location(loc_uri=DEVID),
                        source=Location(loc_uri=SERVER_URL, loc_name="dms1"), meta=meta,
                        cred=Cred(meta=Meta(type="syncml:auth-md5", format="b64"),
                                  data=md5_cred("dms1", "dms1-secret", self.server_nonce))
                        if cred else None)
        return wire.encode(Message(header=header, body=Body(commands=[header_status, *numbered],
                                                             final=final)), self.encoding)

    def send(self, body: bytes, headers: dict[str, str] | None = None) -> Send | Ended:
        step = self.session.receive(body, self.encoding.content_type, headers)
        if isinstance(step, Send):
            self.sent.append(step)
        return step

    def answer(self, commands: list, **options: object) -> Message:
        """Send a server message; the handset must answer it; return the answer."""
        step = self.send(self.message(commands, **options))
        assert isinstance(step, Send), step
        return wire.decode(step.body)


def _number(commands: list, ids) -> list:
    """CmdIDs in document order, inside Atomic and Sequence too."""
    for command in commands:
        command.cmd_id = str(next(ids))
        _number(getattr(command, "commands", []), ids)
    return commands


def statuses(message: Message) -> dict[str, int]:
    """CmdRef -> status code, for the Statuses that answer commands (not the header)."""
    return {c.cmd_ref: c.code for c in message.body.commands
            if isinstance(c, Status) and c.cmd_ref != "0"}


def hmac_header(body: bytes, nonce: bytes) -> dict[str, str]:
    mac = hmac_mac("dms1", "dms1-secret", nonce, body)
    return {wire.HMAC_HEADER_NAME: str(wire.HmacHeader(username="dms1", mac=mac))}
