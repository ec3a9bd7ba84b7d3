"""Between the model and the codecs: a message as a tree of light element tuples.

Both codecs read bytes into element tuples, and build the model from them here; to
encode, they walk the model themselves (no tuples in between, which is what keeps
encoding cheap), following `FIELDS`. Both directions are driven by one table per class
that lists its child elements in DTD order. That is what makes XML and WBXML two
codecs of the same model.

An element tuple is `(name, value, children, offset)`: the local element name (Clark
notation for DDF elements inside Data), the text (`str`; `bytes` from WBXML OPAQUE;
`EmbeddedXml` for elements inside Data), a sequence of child tuples, and where it
starts in the input (a byte offset for WBXML, a line number for XML) for error
messages.

Decoding is tolerant of child order, strict about what may appear where: an element
out of place or a required one missing raises DecodeError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .alert import AlertCode
from .errors import DecodeError
from .model import (
    Add,
    Alert,
    Anchor,
    Atomic,
    Body,
    Copy,
    Cred,
    Delete,
    Exec,
    Get,
    Header,
    Item,
    Location,
    Mem,
    Message,
    Meta,
    Replace,
    Results,
    Sequence,
    Status,
)
from .status import StatusCode

Node = tuple


# What a field holds, which says how the codecs write it.
TEXT = "text"  # text (Data: also bytes or EmbeddedXml); "" is an empty element
INT = "int"  # an int written as decimal text
FLAG = "flag"  # an empty element, present when True
MODEL = "model"  # a model object, as an element of the field's name
COMMAND = "command"  # a command, as an element named after its class
CHAL = "chal"  # a Meta, wrapped as <Chal><Meta>...</Meta></Chal>


class _Field(NamedTuple):
    name: str
    attr: str
    read: Callable[[Node], Any]
    kind: str
    repeated: bool = False
    required: bool = False
    also: tuple[str, ...] = ()  # more element names read into the same field


class _Schema(NamedTuple):
    by_name: dict[str, tuple[str, Callable[[Node], Any], bool]]  # name -> (attr, read, repeated)
    required: tuple[_Field, ...]


_SCHEMAS: dict[type, _Schema] = {}
FIELDS: dict[type, tuple[tuple[str, str, str, bool], ...]] = {}
"""Per model class, its child elements in DTD order: (name, attr, kind, repeated)."""
_STATUS_CODES = StatusCode._value2member_map_
_ALERT_CODES = AlertCode._value2member_map_


def _fail(message: str, node: Node) -> DecodeError:
    return DecodeError(message, node[3])


# Readers: element tuple -> field value.


def _read_text(node: Node) -> str:
    value = node[1]
    if node[2]:
        raise _fail(f"<{node[0]}> holds elements where text was expected", node)
    if value is None:
        return ""
    if value.__class__ is str:
        return value
    if value.__class__ is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(f"<{node[0]}> holds binary data where text was expected", node) from None
    raise _fail(f"<{node[0]}> holds elements where text was expected", node)


def _read_int(node: Node) -> int:
    text = _read_text(node).strip()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        raise _fail(f"<{node[0]}> must be a non-negative integer, not {text[:40]!r}", node)
    return int(text)


def _read_status_code(node: Node) -> int:
    code = _read_int(node)
    return _STATUS_CODES.get(code, code)


def _read_alert_code(node: Node) -> int:
    code = _read_int(node)
    return _ALERT_CODES.get(code, code)


def _read_flag(node: Node) -> bool:
    if node[2] or (node[1] and node[1].strip()):
        raise _fail(f"<{node[0]}> must be empty", node)
    return True


def _read_data(node: Node) -> Any:
    value = node[1]  # the codecs have already turned elements inside Data into EmbeddedXml
    if value is None:
        return ""
    if value.__class__ is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _reader(cls: type) -> Callable[[Node], Any]:
    def read(node: Node) -> Any:
        return _build(cls, node)

    return read


def _read_meta(node: Node) -> Meta:
    children = node[2]
    if len(children) == 1 and children[0][0] == "MetInf":  # a wrapper some peers send
        node = children[0]
    return _build(Meta, node)


def _read_chal(node: Node) -> Meta:
    children = node[2]
    if len(children) != 1 or children[0][0] != "Meta":
        raise _fail("<Chal> must hold exactly one <Meta>", node)
    return _read_meta(children[0])


def _text(name: str, attr: str, required: bool = False) -> _Field:
    return _Field(name, attr, _read_text, TEXT, required=required)


def _texts(name: str, attr: str) -> _Field:
    return _Field(name, attr, _read_text, TEXT, repeated=True)


def _int(name: str, attr: str) -> _Field:
    return _Field(name, attr, _read_int, INT)


def _flag(name: str, attr: str) -> _Field:
    return _Field(name, attr, _read_flag, FLAG)


def _child(name: str, attr: str, cls: type, required: bool = False) -> _Field:
    return _Field(name, attr, _reader(cls), MODEL, required=required)


def _items(required: bool = False) -> _Field:
    if required:  # Exec: exactly one Item
        return _Field("Item", "item", _reader(Item), MODEL, required=True)
    return _Field("Item", "items", _reader(Item), MODEL, repeated=True)


def _read_command(node: Node) -> Any:
    return _build(COMMANDS[node[0]], node)


def _commands(*classes: type) -> _Field:
    names = tuple(cls.__name__ for cls in classes)
    return _Field(names[0], "commands", _read_command, COMMAND, repeated=True, also=names[1:])


def _register(cls: type, *fields: _Field) -> None:
    by_name = {
        name: (field.attr, field.read, field.repeated) for field in fields for name in (field.name, *field.also)
    }
    required = tuple(field for field in fields if field.required)
    _SCHEMAS[cls] = _Schema(by_name, required)
    FIELDS[cls] = tuple((field.name, field.attr, field.kind, field.repeated) for field in fields)


_META = _Field("Meta", "meta", _read_meta, MODEL)
_CMD_ID = _text("CmdID", "cmd_id", required=True)
_NO_RESP = _flag("NoResp", "no_resp")
_CRED = _child("Cred", "cred", Cred)
_CORRELATOR = _text("Correlator", "correlator")
_MSG_REF = _text("MsgRef", "msg_ref")
_CMD_REF = _text("CmdRef", "cmd_ref", required=True)
_REFS = (_texts("TargetRef", "target_refs"), _texts("SourceRef", "source_refs"))
# What may sit in Atomic and Sequence; the body also takes Results and Status.
_NESTED = (Add, Alert, Atomic, Copy, Delete, Exec, Get, Replace, Sequence)
COMMANDS = {cls.__name__: cls for cls in (*_NESTED, Results, Status)}
"""Every command class by its element name."""

_register(Anchor, _text("Last", "last"), _text("Next", "next", required=True))
_register(Mem, _flag("SharedMem", "shared_mem"), _int("FreeMem", "free_mem"), _int("FreeID", "free_id"))
_register(
    Meta,
    _text("Format", "format"),
    _text("Type", "type"),
    _text("Mark", "mark"),
    _int("Size", "size"),
    _child("Anchor", "anchor", Anchor),
    _text("Version", "version"),
    _text("NextNonce", "next_nonce"),
    _int("MaxMsgSize", "max_msg_size"),
    _int("MaxObjSize", "max_obj_size"),
    _texts("EMI", "emi"),
    _child("Mem", "mem", Mem),
    _flag("FieldLevel", "field_level"),
)
_register(Location, _text("LocURI", "loc_uri", required=True), _text("LocName", "loc_name"))
_register(Cred, _META, _text("Data", "data", required=True))
_register(
    Item,
    _child("Target", "target", Location),
    _child("Source", "source", Location),
    _child("SourceParent", "source_parent", Location),
    _child("TargetParent", "target_parent", Location),
    _META,
    _Field("Data", "data", _read_data, TEXT),
    _flag("MoreData", "more_data"),
)
for _cls in (Add, Copy, Replace):
    _register(_cls, _CMD_ID, _NO_RESP, _CRED, _META, _items())
_register(
    Delete,
    _CMD_ID,
    _NO_RESP,
    _flag("Archive", "archive"),
    _flag("SftDel", "sft_del"),
    _CRED,
    _META,
    _items(),
)
_register(Get, _CMD_ID, _NO_RESP, _text("Lang", "lang"), _CRED, _META, _items())
_register(Exec, _CMD_ID, _NO_RESP, _CRED, _META, _CORRELATOR, _items(required=True))
_register(
    Alert,
    _CMD_ID,
    _NO_RESP,
    _CRED,
    _Field("Data", "code", _read_alert_code, INT, required=True),
    _CORRELATOR,
    _items(),
)
for _cls in (Atomic, Sequence):
    _register(_cls, _CMD_ID, _NO_RESP, _META, _commands(*_NESTED))
_register(Results, _CMD_ID, _MSG_REF, _CMD_REF, _META, *_REFS, _items())
_register(
    Status,
    _CMD_ID,
    _MSG_REF._replace(required=True),
    _CMD_REF,
    _text("Cmd", "cmd", required=True),
    *_REFS,
    _CRED,
    _Field("Chal", "chal", _read_chal, CHAL),
    _Field("Data", "code", _read_status_code, INT, required=True),
    _items(),
)
_register(
    Header,
    _text("VerDTD", "ver_dtd", required=True),
    _text("VerProto", "ver_proto", required=True),
    _text("SessionID", "session_id", required=True),
    _text("MsgID", "msg_id", required=True),
    _child("Target", "target", Location, required=True),
    _child("Source", "source", Location, required=True),
    _text("RespURI", "resp_uri"),
    _NO_RESP,
    _CRED,
    _META,
)
_register(Body, _commands(*_NESTED, Results, Status), _flag("Final", "final"))
_register(
    Message,
    _child("SyncHdr", "header", Header, required=True),
    _child("SyncBody", "body", Body, required=True),
)


def _build(cls: type, node: Node) -> Any:
    schema = _SCHEMAS[cls]
    by_name = schema.by_name
    values: dict[str, Any] = {}
    for child in node[2]:
        entry = by_name.get(child[0])
        if entry is None:
            raise _fail(f"<{child[0]}> is not allowed in <{node[0]}>", child)
        attr, read, repeated = entry
        if repeated:
            if attr in values:
                values[attr].append(read(child))
            else:
                values[attr] = [read(child)]
        elif attr in values:
            raise _fail(f"<{child[0]}> appears twice in <{node[0]}>", child)
        else:
            values[attr] = read(child)
    for field in schema.required:
        if field.attr not in values:
            raise _fail(f"<{node[0]}> lacks <{field.name}>", node)
    return cls(**values)


def build_message(root: Node) -> Message:
    """The model of a decoded element tree; DecodeError if it is not a DM message."""
    if root[0] != "SyncML":
        raise _fail(f"root element is <{root[0]}>, not <SyncML>", root)
    return _build(Message, root)
