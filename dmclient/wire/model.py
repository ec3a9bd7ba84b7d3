"""The SyncML DM message model: what a message says, whichever encoding carried it.

One model serves both directions and both codecs, so a message decoded from XML and one
decoded from WBXML compare equal when they say the same thing.

Conventions:
- Field names are the SyncML element names in snake case (`LocURI` is `loc_uri`).
- Identifiers (SessionID, MsgID, CmdID, MsgRef, CmdRef) stay strings, so that a Status
  echoes exactly what the peer sent.
- Sizes are ints; Status and Alert codes are StatusCode / AlertCode when known and a
  plain int otherwise.
- An optional element that is absent is None (or False for empty flag elements such as
  NoResp, or an empty list for repeated ones); present but empty is "".
- Item Data is `str` for text, `bytes` for binary that is not UTF-8 (only WBXML OPAQUE
  can carry it), and `EmbeddedXml` for elements inside Data, such as a TNDS MgmtTree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class EmbeddedXml:
    """XML elements carried inside Data, as exclusive canonical XML text.

    Kept as text, not as a tree, so that the model stays a plain comparable value; the
    tree layer parses it when it needs the structure.
    """

    xml: str


Data = str | bytes | EmbeddedXml


@dataclass(slots=True, kw_only=True)
class Anchor:
    next: str
    last: str | None = None


@dataclass(slots=True, kw_only=True)
class Mem:
    free_mem: int | None = None
    free_id: int | None = None
    shared_mem: bool = False


@dataclass(slots=True, kw_only=True)
class Meta:
    """Every MetInf field (namespace `syncml:metinf`)."""

    format: str | None = None
    type: str | None = None
    mark: str | None = None
    size: int | None = None
    anchor: Anchor | None = None
    version: str | None = None
    next_nonce: str | None = None
    max_msg_size: int | None = None
    max_obj_size: int | None = None
    emi: list[str] = field(default_factory=list)
    mem: Mem | None = None
    field_level: bool = False


@dataclass(slots=True, kw_only=True)
class Location:
    """Target or Source (also SourceParent / TargetParent, which have no LocName)."""

    loc_uri: str
    loc_name: str | None = None


@dataclass(slots=True, kw_only=True)
class Cred:
    data: str
    meta: Meta | None = None


@dataclass(slots=True, kw_only=True)
class Item:
    target: Location | None = None
    source: Location | None = None
    source_parent: Location | None = None
    target_parent: Location | None = None
    meta: Meta | None = None
    data: Data | None = None
    more_data: bool = False


@dataclass(slots=True, kw_only=True)
class _ItemCommand:
    cmd_id: str
    items: list[Item] = field(default_factory=list)
    meta: Meta | None = None
    cred: Cred | None = None
    no_resp: bool = False


@dataclass(slots=True, kw_only=True)
class Add(_ItemCommand):
    pass


@dataclass(slots=True, kw_only=True)
class Copy(_ItemCommand):
    pass


@dataclass(slots=True, kw_only=True)
class Replace(_ItemCommand):
    pass


@dataclass(slots=True, kw_only=True)
class Delete(_ItemCommand):
    archive: bool = False
    sft_del: bool = False


@dataclass(slots=True, kw_only=True)
class Get(_ItemCommand):
    lang: str | None = None


@dataclass(slots=True, kw_only=True)
class Exec:
    cmd_id: str
    item: Item
    correlator: str | None = None
    meta: Meta | None = None
    cred: Cred | None = None
    no_resp: bool = False


@dataclass(slots=True, kw_only=True)
class Alert:
    """UI alerts (1100-1104), session alerts (1200-1226); Generic Alert 1226 carries a
    Correlator and Items whose Meta has Type, Format and Mark."""

    cmd_id: str
    code: int
    correlator: str | None = None
    items: list[Item] = field(default_factory=list)
    cred: Cred | None = None
    no_resp: bool = False


@dataclass(slots=True, kw_only=True)
class _Container:
    cmd_id: str
    commands: list[Command] = field(default_factory=list)
    meta: Meta | None = None
    no_resp: bool = False


@dataclass(slots=True, kw_only=True)
class Atomic(_Container):
    pass


@dataclass(slots=True, kw_only=True)
class Sequence(_Container):
    pass


@dataclass(slots=True, kw_only=True)
class Results:
    cmd_id: str
    cmd_ref: str
    msg_ref: str | None = None
    meta: Meta | None = None
    target_refs: list[str] = field(default_factory=list)
    source_refs: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class Status:
    """`chal` is the Meta inside Chal (auth type, format and NextNonce of a challenge)."""

    cmd_id: str
    msg_ref: str
    cmd_ref: str
    cmd: str
    code: int
    target_refs: list[str] = field(default_factory=list)
    source_refs: list[str] = field(default_factory=list)
    cred: Cred | None = None
    chal: Meta | None = None
    items: list[Item] = field(default_factory=list)


Command = Add | Alert | Atomic | Copy | Delete | Exec | Get | Replace | Results | Sequence | Status


@dataclass(slots=True, kw_only=True)
class Header:
    """SyncHdr. VerDTD 1.1 / DM/1.1 marks a DM 1.1 message; codecs follow it."""

    session_id: str
    msg_id: str
    target: Location
    source: Location
    ver_dtd: str = "1.2"
    ver_proto: str = "DM/1.2"
    resp_uri: str | None = None
    no_resp: bool = False
    cred: Cred | None = None
    meta: Meta | None = None


@dataclass(slots=True, kw_only=True)
class Body:
    commands: list[Command] = field(default_factory=list)
    final: bool = False


@dataclass(slots=True, kw_only=True)
class Message:
    header: Header
    body: Body = field(default_factory=Body)


def iter_items(commands: list[Command]) -> Iterator[tuple[Command, Item]]:
    """Every (command, item) pair, looking inside Atomic and Sequence."""
    for command in commands:
        if isinstance(command, _Container):
            yield from iter_items(command.commands)
        elif isinstance(command, Exec):
            yield command, command.item
        else:
            for item in command.items:
                yield command, item
