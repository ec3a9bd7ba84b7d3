"""Item Data as the tree wants it, and tree values as Item Data."""

from __future__ import annotations

import base64

from dmclient.tree.formats import Value
from dmclient.wire import Data, EmbeddedXml, Item, Location, Meta

DEFAULT_FORMAT, DEFAULT_TYPE = "chr", "text/plain"


def as_text(data: Data | None) -> str:
    if data is None:
        return ""
    if isinstance(data, EmbeddedXml):
        return data.xml
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def as_value(data: Data | None) -> Value:
    """What the tree stores: bytes stay bytes (WBXML OPAQUE), embedded XML becomes text."""
    if isinstance(data, EmbeddedXml):
        return data.xml
    return data


def result_item(uri: str, value: Value, fmt: str, mime: str) -> Item:
    """A Results Item: binary goes as b64, and Meta is left out for chr text/plain."""
    if isinstance(value, bytes):
        data, fmt = base64.b64encode(value).decode(), "b64"
    else:
        data = "" if value is None else value
    meta = None
    if fmt != DEFAULT_FORMAT or (mime and mime != DEFAULT_TYPE):
        meta = Meta(format=fmt, type=mime or None)
    return Item(source=Location(loc_uri=uri), meta=meta, data=data)
