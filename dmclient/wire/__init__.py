"""SyncML DM on the wire: the message model, its XML and WBXML codecs, status codes.

    message = decode(body)                       # XML or WBXML, detected
    body = encode(message, Encoding.WBXML)       # or encode_xml / encode_wbxml

Decoders raise DecodeError, and nothing else, on any input they cannot read.
This package imports nothing from the rest of dmclient.
"""

from __future__ import annotations

from .alert import AlertCode
from .embedded import embed_xml
from .errors import DecodeError, EncodeError
from .hmac_header import HEADER_NAME as HMAC_HEADER_NAME
from .hmac_header import HmacHeader
from .mime import Encoding, detect, encoding_of
from .model import (
    Add,
    Alert,
    Anchor,
    Atomic,
    Body,
    Command,
    Copy,
    Cred,
    Data,
    Delete,
    EmbeddedXml,
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
    iter_items,
)
from .status import StatusCode
from .wbxml_codec import decode_wbxml, encode_wbxml
from .xml_codec import DEFAULT_MAX_SIZE, decode_xml, encode_xml


def decode(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> Message:
    """Decode a message in either encoding, told apart by its first byte."""
    if detect(data) is Encoding.WBXML:
        return decode_wbxml(data, max_size=max_size)
    return decode_xml(data, max_size=max_size)


def encode(message: Message, encoding: Encoding) -> bytes:
    if encoding is Encoding.WBXML:
        return encode_wbxml(message)
    return encode_xml(message)


__all__ = [
    "DEFAULT_MAX_SIZE",
    "HMAC_HEADER_NAME",
    "Add",
    "Alert",
    "AlertCode",
    "Anchor",
    "Atomic",
    "Body",
    "Command",
    "Copy",
    "Cred",
    "Data",
    "DecodeError",
    "Delete",
    "EmbeddedXml",
    "EncodeError",
    "Encoding",
    "Exec",
    "Get",
    "Header",
    "HmacHeader",
    "Item",
    "Location",
    "Mem",
    "Message",
    "Meta",
    "Replace",
    "Results",
    "Sequence",
    "Status",
    "StatusCode",
    "decode",
    "decode_wbxml",
    "decode_xml",
    "detect",
    "embed_xml",
    "encode",
    "encode_wbxml",
    "encode_xml",
    "encoding_of",
    "iter_items",
]
