"""The XML codec: SyncML DM messages to and from XML, on lxml.

Decoding takes what real peers send: any namespace prefix or none, whitespace between
elements, CDATA, comments, `syncml:metinf` declared on each Meta child, on Meta, or not
at all. It refuses what no DM peer needs and an attacker would: internal DTD subsets
(entity bombs, external entities), DTD loading, network access, oversized input.

Encoding is canonical: the same message always gives the same bytes, with the root in
the SyncML namespace of its VerDTD and each Meta child declaring `syncml:metinf`.
"""

from __future__ import annotations

import re

from lxml import etree

from . import embedded
from .elements import COMMAND, COMMANDS, FIELDS, FLAG, INT, MODEL, TEXT, Node, build_message
from .errors import DecodeError, EncodeError
from .model import EmbeddedXml, Message, Meta
from .wbxml_tables import METINF_NS, SYNCML_NS, TAG_TOKENS

DEFAULT_MAX_SIZE = 1 << 20
MAX_DEPTH = 100

# Clark-notation tag -> local name, for the names we know; others are split on demand
# (and not cached, so that hostile input cannot grow this table).
_LOCAL_NAMES = {
    f"{{{namespace}}}{name}" if namespace else name: name
    for name in TAG_TOKENS
    if name[0] != "{"
    for namespace in ("", METINF_NS, *SYNCML_NS.values())
}


def _offset(data: bytes, line: int, column: int = 1) -> int:
    """Byte offset of a 1-based line and column, as lxml reports them."""
    start = 0
    for _ in range(max(line, 1) - 1):
        found = data.find(b"\n", start)
        if found < 0:
            break
        start = found + 1
    return min(start + max(column, 1) - 1, len(data))


def _refuse_dtd(root: etree._Element) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and (any(True for _ in dtd.iterentities()) or any(True for _ in dtd.iterelements())):
        raise DecodeError("DOCTYPE with an internal subset (entity or element declarations) refused", 1)


def _node(element: etree._Element, depth: int) -> Node:
    tag = element.tag
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        if not isinstance(tag, str):
            raise DecodeError("entity reference in a SyncML message", element.sourceline)
        name = tag.rpartition("}")[2]
    if len(element):
        if name == "Data":
            return (name, embedded.from_lxml(element), (), element.sourceline)
        if depth >= MAX_DEPTH:
            raise DecodeError(f"elements nested deeper than {MAX_DEPTH}", element.sourceline)
        depth += 1
        return (name, None, [_node(child, depth) for child in element], element.sourceline)
    return (name, element.text, (), element.sourceline)


def decode_xml(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> Message:
    """Decode one XML SyncML message; DecodeError for anything else."""
    if len(data) > max_size:
        raise DecodeError(f"message of {len(data)} bytes is over the {max_size}-byte limit", max_size)
    try:
        root = etree.fromstring(data, embedded.PARSER)
        _refuse_dtd(root)
        return build_message(_node(root, 0))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise DecodeError(f"not well-formed XML: {exc.msg}", _offset(data, line, column)) from None
    except DecodeError as exc:
        # Element tuples carry line numbers; turn them into byte offsets.
        offset = None if exc.offset is None else _offset(data, exc.offset)
        raise DecodeError(exc.message, offset) from None
    except (etree.LxmlError, ValueError) as exc:
        raise DecodeError(f"not a readable XML document: {exc}", 0) from None


_INVALID_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return text.translate(_ESCAPES)
    return text


def _tags(name: str, declare: str) -> tuple[str, str, str]:
    return f"<{name}{declare}>", f"</{name}>", f"<{name}{declare}/>"


def _plan(cls: type) -> tuple:
    """A class's fields as (name, attr, kind, open, close, empty, repeated); children of
    Meta declare `syncml:metinf`; commands get their tags, named after their class,
    when written."""
    declare = f' xmlns="{METINF_NS}"' if cls is Meta else ""
    return tuple((name, attr, kind, *_tags(name, declare), repeated)
                 for name, attr, kind, repeated in FIELDS[cls])


_PLANS = {cls: _plan(cls) for cls in FIELDS}
_COMMAND_TAGS = {cls: _tags(name, "") for name, cls in COMMANDS.items()}
_CHAL_META = _tags("Meta", "")


def _write_model(obj: object, out: list[str]) -> None:
    """The fields of a model object as elements, straight from the model (no element
    tuples: this is the encoder's hot loop)."""
    for name, attr, kind, open_, close, empty, repeated in _PLANS[obj.__class__]:
        value = getattr(obj, attr)
        if not value and (value is None or value is False or value.__class__ is list):
            continue
        for value in value if repeated else (value,):
            if kind is TEXT:
                out.append(open_)
                if isinstance(value, str):
                    out.append(_escape(value))
                elif isinstance(value, EmbeddedXml):
                    out.append(embedded.canonical_text(value))
                else:
                    raise EncodeError(f"XML cannot carry binary <{name}>; send it b64 with "
                                      "Format b64, or use WBXML")
                out.append(close)
            elif kind is MODEL:
                _write_element(value, out, open_, close, empty)
            elif kind is COMMAND:
                _write_element(value, out, *_COMMAND_TAGS[value.__class__])
            elif kind is INT:
                out.append(f"{open_}{int(value)}{close}")
            elif kind is FLAG:
                out.append(empty)
            else:  # CHAL
                out.append(open_)
                _write_element(value, out, *_CHAL_META)
                out.append(close)


def _write_element(obj: object, out: list[str], open_: str, close: str, empty: str) -> None:
    """A model object as an element."""
    out.append(open_)
    mark = len(out)
    _write_model(obj, out)
    if len(out) == mark:
        out[-1] = empty
    else:
        out.append(close)


def encode_xml(message: Message) -> bytes:
    """The canonical XML bytes of a message (namespace per its VerDTD)."""
    namespace = SYNCML_NS.get(message.header.ver_dtd, SYNCML_NS["1.2"])
    out: list[str] = []
    _write_element(message, out, *_tags("SyncML", f' xmlns="{namespace}"'))
    text = "".join(out)
    bad = _INVALID_XML_CHAR.search(text)
    if bad:
        raise EncodeError(f"XML cannot carry the character {bad.group()!r}; use WBXML, or b64 data")
    return text.encode("utf-8")
