"""DM Tree URIs: parsing, validation and the limits a handset advertises.

A URI names a node relative to the root (`./A/B` equals `A/B`; the root is `.`) and may
end in `?prop=NAME` or `?list=Struct|StructData|TNDS[+P|-P...]`. Segments are stored
unescaped (`%XX` decoded, UTF-8), so the canonical path of a node is `./` plus its names
joined by `/`; names can never contain `/`, which keeps that form unambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from dmclient.tree.formats import xml_unsafe
from dmclient.wire.status import StatusCode

ROOT = "."

#: Properties a node has (OMA DM TND 1.2 §7); `?prop=` of anything else gives 406.
PROPERTIES = ("ACL", "Format", "Name", "Size", "Title", "TStamp", "Type", "VerNo")
LIST_FORMS = ("Struct", "StructData", "TNDS")

# Characters that must be %-escaped in a segment: controls, space, and URI delimiters.
_FORBIDDEN = frozenset(chr(c) for c in range(0x20)) | {"\x7f", " ", "/", "?", "#"}
_TO_ESCAPE = re.compile("[%s]" % re.escape("".join(sorted(_FORBIDDEN | {"%"}))))


class UriError(ValueError):
    """A malformed or over-limit URI; `status` is what a DM command answers (400 or 414)."""

    def __init__(self, message: str, status: StatusCode = StatusCode.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class UriLimits:
    """./DevDetail/URI/{MaxDepth,MaxTotLen,MaxSegLen}; 0 means unlimited."""

    max_depth: int = 0
    max_tot_len: int = 0
    max_seg_len: int = 0

    def check(self, uri: "Uri", raw_length: int) -> None:
        if self.max_depth and len(uri.segments) > self.max_depth:
            raise UriError(f"URI depth {len(uri.segments)} exceeds MaxDepth {self.max_depth}",
                           StatusCode.URI_TOO_LONG)
        if self.max_tot_len and raw_length > self.max_tot_len:
            raise UriError(f"URI length {raw_length} exceeds MaxTotLen {self.max_tot_len}",
                           StatusCode.URI_TOO_LONG)
        if self.max_seg_len:
            for seg in uri.segments:
                if len(seg.encode()) > self.max_seg_len:
                    raise UriError(f"segment {seg!r} exceeds MaxSegLen {self.max_seg_len}",
                                   StatusCode.URI_TOO_LONG)


NO_LIMITS = UriLimits()


@dataclass(frozen=True, slots=True)
class Uri:
    """A parsed node address with its optional `?prop=` or `?list=` suffix."""

    segments: tuple[str, ...]
    prop: str | None = None
    list_form: str | None = None
    list_props: tuple[str, ...] = ()  # the "+P"/"-P" modifiers of ?list=, in order

    @property
    def path(self) -> str:
        """The canonical path of the node: `.` or `./A/B` (names unescaped)."""
        return join(self.segments)

    def __str__(self) -> str:
        text = to_uri(self.path)
        if self.prop is not None:
            return f"{text}?prop={self.prop}"
        if self.list_form is not None:
            return f"{text}?list={self.list_form}{''.join(self.list_props)}"
        return text


def join(segments: tuple[str, ...] | list[str]) -> str:
    return "./" + "/".join(segments) if segments else ROOT


def to_uri(path: str) -> str:
    """The URI a server uses for a canonical path (names %-escaped where needed)."""
    if path == ROOT:
        return ROOT
    return "./" + "/".join(escape(s) for s in path[2:].split("/"))


def parent_path(path: str) -> str | None:
    """The canonical path of a node's parent, or None for the root."""
    if path == ROOT:
        return None
    head, _, _ = path.rpartition("/")
    return head


def child_path(path: str, name: str) -> str:
    return f"{path}/{name}" if path != ROOT else f"./{name}"


def name_of(path: str) -> str:
    return "" if path == ROOT else path.rpartition("/")[2]


def is_within(path: str, ancestor: str) -> bool:
    """True when `path` is `ancestor` or lies below it."""
    return ancestor == ROOT or path == ancestor or path.startswith(ancestor + "/")


def escape(segment: str) -> str:
    """Percent-escape the characters a segment may not carry literally."""
    if _TO_ESCAPE.search(segment) is None:  # the common case, checked in C
        return segment
    return "".join(
        "".join(f"%{b:02X}" for b in c.encode()) if (c in _FORBIDDEN or c == "%") else c
        for c in segment
    )


def validate_name(name: str) -> None:
    """A node name as stored: non-empty, no `/`, no NUL or control characters, not `.`/`..`."""
    if not name:
        raise UriError("empty node name")
    if name in (".", ".."):
        raise UriError(f"node name {name!r} is reserved")
    if "/" in name or any(ord(c) < 0x20 or c == "\x7f" for c in name) or xml_unsafe(name):
        raise UriError(f"node name {name!r} has a '/' or a character XML cannot carry")


def parse(text: str, limits: UriLimits = NO_LIMITS) -> Uri:
    """Parse and validate a URI; raises UriError (status 400, or 414 past the limits)."""
    uri = _parse(text)
    if limits is not NO_LIMITS:
        limits.check(uri, len(text.partition("?")[0].encode()))
    return uri


@lru_cache(maxsize=4096)
def _parse(text: str) -> Uri:
    if not isinstance(text, str):
        raise UriError("URI must be a string")
    bad = xml_unsafe(text)
    if bad is not None:
        raise UriError(f"URI holds {bad!r}, which is not allowed")
    base, sep, query = text.partition("?")
    segments = _parse_path(base)
    if not sep:
        return Uri(segments)
    key, eq, value = query.partition("=")
    if not eq or not value:
        raise UriError(f"malformed query {query!r} in {text!r}")
    if key == "prop":
        # An unknown property is a 406 from the command, not a malformed URI.
        return Uri(segments, prop=value)
    if key == "list":
        return Uri(segments, list_form=_list_form(value), list_props=_list_props(value))
    raise UriError(f"unsupported query {key!r} in {text!r}")


def _parse_path(base: str) -> tuple[str, ...]:
    if base in (".", "./"):
        if base == "./":
            raise UriError("URI may not end in '/'")
        return ()
    if not base:
        raise UriError("empty URI")
    if base.startswith("./"):
        base = base[2:]
    elif base.startswith("/"):
        raise UriError(f"absolute URI {base!r}: DM URIs are relative to '.'")
    if base.endswith("/"):
        raise UriError(f"URI {base!r} may not end in '/'")
    segments = []
    for raw in base.split("/"):
        if raw == "":
            raise UriError(f"empty segment in {base!r}")
        if raw == ".":
            raise UriError(f"'./' is allowed only at the start of a URI: {base!r}")
        if raw == "..":
            raise UriError(f"'..' is not allowed in a URI: {base!r}")
        name = _unescape(raw)
        validate_name(name)
        segments.append(name)
    return tuple(segments)


def _unescape(raw: str) -> str:
    for c in raw:
        if c in _FORBIDDEN:
            raise UriError(f"character {c!r} must be %-escaped in segment {raw!r}")
    if "%" not in raw:
        return raw
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "%":
            hexpart = raw[i + 1:i + 3]
            if len(hexpart) != 2 or not all(h in "0123456789abcdefABCDEF" for h in hexpart):
                raise UriError(f"bad %-escape in segment {raw!r}")
            out.append(int(hexpart, 16))
            i += 3
        else:
            out += c.encode()
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise UriError(f"segment {raw!r} is not UTF-8 once unescaped") from None


def _list_form(value: str) -> str:
    head = value
    for sep in "+-":
        head = head.split(sep, 1)[0]
    if head not in LIST_FORMS:
        raise UriError(f"unknown ?list= form {head!r}")
    return head


def _list_props(value: str) -> tuple[str, ...]:
    rest = value[len(_list_form(value)):]
    mods: list[str] = []
    i = 0
    while i < len(rest):
        sign = rest[i]
        j = i + 1
        while j < len(rest) and rest[j] not in "+-":
            j += 1
        name = rest[i + 1:j]
        if name not in PROPERTIES + ("Value",):
            raise UriError(f"unknown property {name!r} in ?list=")
        mods.append(sign + name)
        i = j
    return tuple(mods)
