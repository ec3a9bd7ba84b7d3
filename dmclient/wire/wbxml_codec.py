"""The WBXML codec: SyncML DM messages to and from WAP Binary XML, written here.

Decoding reads what peers send: WBXML 1.0-1.3 headers; the SyncML public ids by number
(0x1201, 0x0FD3...) or as text in the string table; a string table or none; inline and
table strings, OPAQUE, character entities; SWITCH_PAGE anywhere. It trusts no length,
index or count from the input: every read is bounds-checked, nesting is capped, and
anything malformed raises DecodeError. Tokens go straight into element tuples, with no
XML tree in between, which is what keeps it as fast as lxml on XML.

Encoding is compact and needs no string table: header 02 A4 01 6A 00, inline strings,
OPAQUE for binary data. XML embedded in Data (TNDS) travels as a WBXML document of its
own inside OPAQUE, typed application/vnd.syncml.dmtnds+wbxml: the form libwbxml writes
and reads. Decoding turns it back into EmbeddedXml typed +xml, so the model does not
depend on the encoding.
"""

from __future__ import annotations

import copy

from . import embedded
from .elements import COMMAND, COMMANDS, FIELDS, FLAG, INT, MODEL, TEXT, Node, build_message
from .errors import DecodeError, EncodeError
from .model import EmbeddedXml, Message, iter_items
from .wbxml_tables import (
    CHARSET_UTF8,
    CHARSETS,
    DDF_PUBLIC_ID,
    END,
    ENTITY,
    HAS_ATTRIBUTES,
    HAS_CONTENT,
    NO_TAGS,
    OPAQUE,
    STR_I,
    STR_T,
    SWITCH_PAGE,
    SYNCML_PUBLIC_ID,
    SYNCML_PUBLIC_IDS,
    TAG_NAMES,
    TAG_TOKENS,
    UNKNOWN_PUBLIC_ID,
    WBXML_VERSION,
)
from .xml_codec import DEFAULT_MAX_SIZE, MAX_DEPTH

TNDS_XML = "application/vnd.syncml.dmtnds+xml"
TNDS_WBXML = "application/vnd.syncml.dmtnds+wbxml"
_SYNCML_PUBLIC_ID_TEXTS = frozenset(SYNCML_PUBLIC_IDS.values())


def _mb_uint32(data: bytes, pos: int) -> tuple[int, int]:
    """A WBXML multi-byte integer at pos: (value, position after it)."""
    value = 0
    for index in range(pos, min(pos + 5, len(data))):
        byte = data[index]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, index + 1
    raise DecodeError("truncated or over-long multi-byte integer", pos)


def _mb_bytes(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _table_string(table: bytes, index: int, encoding: str, offset: int) -> str:
    end = table.find(0, index) if index < len(table) else -1
    if end < 0:
        raise DecodeError(f"string table reference {index} out of range", offset)
    try:
        return table[index:end].decode(encoding)
    except UnicodeDecodeError:
        raise DecodeError(f"string table entry {index} is not {encoding}", offset) from None


def _header(data: bytes) -> tuple[int | str, str, bytes, int]:
    """(public id, text encoding, string table, position of the body)."""
    if len(data) < 4:
        raise DecodeError("too short for a WBXML document", len(data))
    version = data[0]
    if version > 3:
        raise DecodeError(f"unknown WBXML version byte 0x{version:02X}", 0)
    public_id, pos = _mb_uint32(data, 1)
    index = None
    if public_id == 0:
        index, pos = _mb_uint32(data, pos)
    charset, charset_at = CHARSET_UTF8, pos
    if version:  # WBXML 1.0 has no charset field
        charset, pos = _mb_uint32(data, pos)
    encoding = CHARSETS.get(charset)
    if encoding is None:
        raise DecodeError(f"unsupported charset MIBenum {charset}", charset_at)
    length, pos = _mb_uint32(data, pos)
    if length > len(data) - pos:
        raise DecodeError(f"string table of {length} bytes runs past the end", pos)
    table = data[pos : pos + length]
    if index is not None:
        public_id = _table_string(table, index, encoding, pos)
    return public_id, encoding, table, pos + length


Content = str | bytes | EmbeddedXml


def _join(value: Content, piece: Content, offset: int) -> Content:
    """Text split into several pieces (libwbxml splits strings around table entries)."""
    if isinstance(value, str) and isinstance(piece, str):
        return value + piece
    if isinstance(value, EmbeddedXml) or isinstance(piece, EmbeddedXml):
        raise DecodeError("an embedded document mixed with other content", offset)
    return _as_bytes(value) + _as_bytes(piece)


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _inline_embedded(element: list) -> Node:
    """<Data> holding DDF tokens inline rather than as an OPAQUE document."""
    name, value, children, offset = element
    if value is not None and (not isinstance(value, str) or value.strip()):
        raise DecodeError("<Data> mixes content and elements", offset)
    return (name, embedded.from_nodes(children), (), offset)


def _elements(data: bytes, pos: int, table: bytes, encoding: str, nested: bool) -> tuple[Node, int, bool]:
    """Tokens from pos to the end of the root element: (root, end position, whether any
    Data held an embedded document)."""
    n = len(data)
    names = TAG_NAMES[0]
    page = 0
    stack: list[list] = []
    current: list | None = None
    found_embedded = False
    start = pos
    try:
        while pos < n:
            token = data[pos]
            if token & 0x3F > 4:  # a tag
                name = names[token & 0x3F]
                if name is None:
                    raise DecodeError(f"unknown tag 0x{token:02X} on code page {page}", pos)
                if token & HAS_ATTRIBUTES:
                    raise DecodeError(f"attributes on <{name}>: SyncML has none", pos)
                if token & HAS_CONTENT:
                    if current is not None:
                        # Fast path for the commonest shape, a leaf with one inline
                        # string: tag STR_I text NUL END.
                        if pos + 1 < n and data[pos + 1] == STR_I:
                            end = data.find(0, pos + 2)
                            if 0 < end < n - 1 and data[end + 1] == END:
                                start = pos + 1
                                current[2].append((name, data[pos + 2 : end].decode(encoding), (), pos))
                                pos = end + 2
                                continue
                        if len(stack) >= MAX_DEPTH:
                            raise DecodeError(f"elements nested deeper than {MAX_DEPTH}", pos)
                        stack.append(current)
                    current = [name, None, [], pos]
                elif current is None:
                    return (name, None, (), pos), pos + 1, False
                else:
                    current[2].append((name, None, (), pos))
                pos += 1
                continue
            start = pos
            pos += 1
            if token == END:
                if current is None:
                    raise DecodeError("END outside any element", start)
                if current[2] and current[0] == "Data":
                    node = _inline_embedded(current)
                    found_embedded = True
                else:
                    node = tuple(current)
                if stack:
                    current = stack.pop()
                    current[2].append(node)
                else:
                    return node, pos, found_embedded
                continue
            if token == SWITCH_PAGE:
                if pos >= n:
                    break
                page = data[pos]
                names = TAG_NAMES.get(page, NO_TAGS)
                pos += 1
                continue
            if token == STR_I:
                end = data.find(0, pos)
                if end < 0:
                    raise DecodeError("inline string without its terminating NUL", start)
                piece: Content = data[pos:end].decode(encoding)
                pos = end + 1
            elif token == OPAQUE:
                length, pos = _mb_uint32(data, pos)
                if length > n - pos:
                    raise DecodeError(f"OPAQUE of {length} bytes runs past the end", start)
                raw = data[pos : pos + length]
                pos += length
                piece = raw
                if not nested and current is not None and current[0] == "Data" and raw[:1] and raw[0] <= 3:
                    piece = _sniff(raw)
                    found_embedded = found_embedded or isinstance(piece, EmbeddedXml)
            elif token == STR_T:
                index, pos = _mb_uint32(data, pos)
                piece = _table_string(table, index, encoding, start)
            elif token == ENTITY:
                code, pos = _mb_uint32(data, pos)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise DecodeError(f"character entity {code:#x} is not a character", start)
                piece = chr(code)
            else:
                raise DecodeError(f"unsupported WBXML token 0x{token:02X}", start)
            if current is None:
                raise DecodeError("content outside the root element", start)
            current[1] = piece if current[1] is None else _join(current[1], piece, start)
    except UnicodeDecodeError:
        raise DecodeError(f"inline string is not {encoding}", start) from None
    raise DecodeError("truncated: the root element is not closed", n)


def _sniff(payload: bytes) -> EmbeddedXml | bytes:
    """OPAQUE Data holding a WBXML DDF document (how TNDS travels) becomes EmbeddedXml."""
    try:
        public_id, encoding, table, pos = _header(payload)
        if public_id not in (DDF_PUBLIC_ID, UNKNOWN_PUBLIC_ID):
            return payload
        root, end, _ = _elements(payload, pos, table, encoding, nested=True)
        if end != len(payload) or root[0][0] != "{":
            return payload
        return embedded.from_nodes([root])
    except DecodeError:
        return payload


def _retype(message: Message, old: str, new: str) -> None:
    """Swap the +xml / +wbxml TNDS type of every Item that carries EmbeddedXml."""
    for command, item in iter_items(message.body.commands):
        if isinstance(item.data, EmbeddedXml):
            meta = item.meta if item.meta is not None and item.meta.type is not None else getattr(command, "meta", None)
            if meta is not None and meta.type == old:
                meta.type = new


def decode_wbxml(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> Message:
    """Decode one WBXML SyncML message; DecodeError for anything else."""
    if len(data) > max_size:
        raise DecodeError(f"message of {len(data)} bytes is over the {max_size}-byte limit", max_size)
    public_id, encoding, table, pos = _header(data)
    if public_id != UNKNOWN_PUBLIC_ID and public_id not in SYNCML_PUBLIC_IDS and public_id not in _SYNCML_PUBLIC_ID_TEXTS:
        raise DecodeError(f"not a SyncML document: public id {public_id!r}", 1)
    root, end, found_embedded = _elements(data, pos, table, encoding, nested=False)
    if end != len(data):
        raise DecodeError("data after the root element", end)
    message = build_message(root)
    if found_embedded:
        _retype(message, TNDS_WBXML, TNDS_XML)
    return message


def _plan(fields: tuple[tuple[str, str, str, bool], ...]) -> tuple:
    """A class's fields as (attr, kind, page, token, repeated); commands, named after
    their class, all sit on page 0 and get their token when written."""
    return tuple((attr, kind, *(TAG_TOKENS[name] if kind is not COMMAND else (0, 0)), repeated)
                 for name, attr, kind, repeated in fields)


_PLANS = {cls: _plan(fields) for cls, fields in FIELDS.items()}
_COMMAND_TOKENS = {cls: TAG_TOKENS[name][1] for name, cls in COMMANDS.items()}
_META_TOKEN = TAG_TOKENS["Meta"][1]
_SWITCH = {page: bytes((SWITCH_PAGE, page)) for page in TAG_NAMES}
_NUL_END = bytes((0, END))


def _write_model(obj: object, out: bytearray, page: int) -> int:
    """The fields of a model object as elements, straight from the model (no element
    tuples: this is the encoder's hot loop). Returns the code page in force after."""
    for attr, kind, tag_page, token, repeated in _PLANS[obj.__class__]:
        value = getattr(obj, attr)
        if not value and (value is None or value is False or value.__class__ is list):
            continue
        for value in value if repeated else (value,):
            if tag_page != page:
                out += _SWITCH[tag_page]
                page = tag_page
            if kind is TEXT:
                if value.__class__ is str and value:
                    raw = value.encode("utf-8")
                    if 0 not in raw:  # else it goes as OPAQUE
                        out.append(token | HAS_CONTENT)
                        out.append(STR_I)
                        out += raw
                        out += _NUL_END
                        continue
                if value == "":
                    out.append(token)
                    continue
                out.append(token | HAS_CONTENT)
                _write_value(value, out)
                out.append(END)
            elif kind is MODEL:
                page = _write_element(value, token, out, page)
            elif kind is COMMAND:
                page = _write_element(value, _COMMAND_TOKENS[value.__class__], out, page)
            elif kind is INT:
                out.append(token | HAS_CONTENT)
                out.append(STR_I)
                out += str(int(value)).encode("ascii")
                out += _NUL_END
            elif kind is FLAG:
                out.append(token)
            else:  # CHAL: <Chal><Meta>...</Meta></Chal>, both on page 0
                out.append(token | HAS_CONTENT)
                page = _write_element(value, _META_TOKEN, out, page)
                out.append(END)
    return page


def _write_element(obj: object, token: int, out: bytearray, page: int) -> int:
    """A model object as an element (its tag's page already switched to)."""
    out.append(token | HAS_CONTENT)
    mark = len(out)
    page = _write_model(obj, out, page)
    if len(out) == mark:
        out[mark - 1] = token  # no content: an empty element
    else:
        out.append(END)
    return page


def _write_node(node: Node, out: bytearray, page: int) -> int:
    """An element tuple (embedded DDF XML) and its children."""
    name, value, children = node[0], node[1], node[2]
    tag_page, token = TAG_TOKENS[name]
    if tag_page != page:
        out += _SWITCH[tag_page]
        page = tag_page
    if (value is None or value == "") and not children:
        out.append(token)
        return page
    out.append(token | HAS_CONTENT)
    if value is not None:
        _write_value(value, out)
    for child in children:
        page = _write_node(child, out, page)
    out.append(END)
    return page


def _write_value(value: Content, out: bytearray) -> None:
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if 0 not in raw:
            out.append(STR_I)
            out += raw
            out.append(0)
            return
        # A NUL cannot sit in an inline string: fall through to OPAQUE.
    elif isinstance(value, EmbeddedXml):
        raw = _document(embedded.to_nodes(value))
    else:
        raw = value
    out.append(OPAQUE)
    out += _mb_bytes(len(raw))
    out += raw


def _document(root: Node) -> bytes:
    """A DDF WBXML document, public id given as text (DDF has no number)."""
    table = DDF_PUBLIC_ID.encode("ascii") + b"\x00"
    out = bytearray((WBXML_VERSION, 0, 0, CHARSET_UTF8))
    out += _mb_bytes(len(table)) + table
    _write_node(root, out, 0)
    return bytes(out)


_SYNCML_TOKEN = TAG_TOKENS["SyncML"][1]


def encode_wbxml(message: Message) -> bytes:
    """Compact WBXML: no string table, public id per VerDTD (0x1201 or 0x0FD3)."""
    if any(isinstance(item.data, EmbeddedXml) for _, item in iter_items(message.body.commands)):
        message = copy.deepcopy(message)
        _retype(message, TNDS_XML, TNDS_WBXML)
    public_id = SYNCML_PUBLIC_ID.get(message.header.ver_dtd, SYNCML_PUBLIC_ID["1.2"])
    out = bytearray((WBXML_VERSION,))
    out += _mb_bytes(public_id)
    out += _mb_bytes(CHARSET_UTF8)
    out.append(0)  # empty string table
    try:
        _write_element(message, _SYNCML_TOKEN, out, 0)
    except UnicodeEncodeError as exc:
        raise EncodeError(f"text is not encodable as UTF-8: {exc.reason}") from None
    return bytes(out)
