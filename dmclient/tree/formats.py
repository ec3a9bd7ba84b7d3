"""Leaf formats (OMA DM TND 1.2 §7.7.3): validation and the stored form of a value.

Servers learn a device's rules from the status codes it returns, so a value that does not
match its format is refused here (400), and an unknown format gets 415, before anything
is written.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date

from lxml import etree

from dmclient.wire.status import StatusCode

NODE = "node"
LEAF_FORMATS = frozenset({"b64", "bin", "bool", "chr", "int", "null", "xml", "date", "time",
                          "float"})
FORMATS = LEAF_FORMATS | {NODE}
BINARY = frozenset({"b64", "bin"})

INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?INF|NaN)\Z")
_DATE = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})\Z")
_TIME = re.compile(r"([01][0-9]|2[0-3]):?([0-5][0-9]):?([0-5][0-9])(\.[0-9]+)?"
                   r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?\Z")

Value = str | bytes | None


# Characters XML 1.0 cannot carry (TNDS export, SyncML XML): C0 controls but tab, LF
# and CR; lone surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_unsafe(text: str) -> str | None:
    """The first character of `text` that XML 1.0 cannot carry, or None."""
    match = _NOT_XML.search(text)
    return match.group() if match else None


class FormatError(ValueError):
    def __init__(self, message: str, status: StatusCode = StatusCode.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


def normalize(value: Value, fmt: str) -> tuple[Value, str]:
    """Check `value` against `fmt`; return the value and format as the tree stores them.

    b64 values arrive as base64 text and are stored decoded with format `bin`, so Size
    counts the decoded bytes (DM Protocol 1.2 §6.6.9).
    """
    if fmt not in FORMATS:
        raise FormatError(f"unsupported format {fmt!r}", StatusCode.UNSUPPORTED_MEDIA_TYPE)
    if fmt == NODE:
        if value not in (None, "", b""):
            raise FormatError("an interior node has no value")
        return None, NODE
    if fmt == "null":
        if value not in (None, "", b""):
            raise FormatError("a null leaf has no value")
        return None, "null"
    if fmt == "b64":
        text = value.encode("ascii", "replace") if isinstance(value, str) else (value or b"")
        try:
            return base64.b64decode(b"".join(text.split()), validate=True), "bin"
        except (binascii.Error, ValueError):
            raise FormatError("value is not valid base64") from None
    if fmt == "bin":
        if isinstance(value, str):
            return value.encode(), "bin"
        return value or b"", "bin"
    text = _text(value)
    bad = xml_unsafe(text)
    if bad is not None:
        raise FormatError(f"value holds {bad!r}, which XML cannot carry")
    _CHECKS[fmt](text)
    return text, fmt


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError("value is not UTF-8 text") from None
    return value


def _check_int(text: str) -> None:
    if not _INT.match(text) or not INT32_MIN <= int(text) <= INT32_MAX:
        raise FormatError(f"{text!r} is not a signed 32-bit integer")


def _check_bool(text: str) -> None:
    if text not in ("true", "false"):
        raise FormatError(f"{text!r} is not a bool (true or false)")


def _check_float(text: str) -> None:
    if not _FLOAT.match(text):
        raise FormatError(f"{text!r} is not an xsd:float")


def _check_date(text: str) -> None:
    match = _DATE.match(text)
    try:
        if match is None:
            raise ValueError
        date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise FormatError(f"{text!r} is not an ISO 8601 date") from None


def _check_time(text: str) -> None:
    if not _TIME.match(text):
        raise FormatError(f"{text!r} is not an ISO 8601 time")


_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              huge_tree=False)


def _check_xml(text: str) -> None:
    """Well-formed XML without a DTD; entities are never expanded."""
    try:
        doc = etree.fromstring(text.encode(), _XML_PARSER).getroottree()
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"xml value is not well-formed: {exc}") from None
    if doc.docinfo.internalDTD is not None or doc.docinfo.doctype:
        raise FormatError("xml value may not carry a DTD")


_CHECKS = {
    "chr": lambda text: None,  # any text XML can carry
    "int": _check_int,
    "bool": _check_bool,
    "float": _check_float,
    "date": _check_date,
    "time": _check_time,
    "xml": _check_xml,
}


def size_of(value: Value) -> int:
    if value is None:
        return 0
    return len(value) if isinstance(value, bytes) else len(value.encode())
