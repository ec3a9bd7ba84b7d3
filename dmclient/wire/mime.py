"""Which encoding a body is in: from its Content-Type, or from its first bytes.

Servers and clients disagree on the media type: OMA registered
`application/vnd.syncml.dm+xml|+wbxml`, and libdmclient sends the SyncML DS types
`application/vnd.syncml+xml|+wbxml`. Both are read; the DM types are written.
"""

from __future__ import annotations

from enum import Enum

from .errors import DecodeError


class Encoding(str, Enum):
    XML = "xml"
    WBXML = "wbxml"

    @property
    def content_type(self) -> str:
        """The media type to send a message with."""
        return f"application/vnd.syncml.dm+{self.value}"


_MEDIA_TYPES = {
    "application/vnd.syncml.dm+xml": Encoding.XML,
    "application/vnd.syncml.dm+wbxml": Encoding.WBXML,
    "application/vnd.syncml+xml": Encoding.XML,
    "application/vnd.syncml+wbxml": Encoding.WBXML,
}


def encoding_of(content_type: str) -> Encoding | None:
    """The encoding a Content-Type header value names (parameters ignored), or None
    if it is not a SyncML DM type (answer 415)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return _MEDIA_TYPES.get(media_type)


def detect(data: bytes) -> Encoding:
    """XML or WBXML, from the first byte: a WBXML document starts with its version
    (0x00-0x03); an XML one with '<', whitespace or a byte order mark."""
    if not data:
        raise DecodeError("empty message", 0)
    first = data[0]
    if first <= 0x03:
        return Encoding.WBXML
    if first in b"<\xef\xfe\xff \t\r\n":
        return Encoding.XML
    raise DecodeError(f"neither XML nor WBXML: first byte 0x{first:02X}", 0)
