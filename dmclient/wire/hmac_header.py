"""The `x-syncml-hmac` HTTP header: the transport MAC of a message (syncml:auth-MAC).

    x-syncml-hmac: algorithm=MD5, username="<LocName>", mac=<base64>

`algorithm` is optional and defaults to MD5. Computing and checking the MAC is the job
of `dmclient.auth`; this module only reads and writes the header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DecodeError

HEADER_NAME = "x-syncml-hmac"

_PARAMETER = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,"]*?)\s*(?:,|$)')
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class HmacHeader:
    username: str
    mac: str
    algorithm: str = "MD5"

    @classmethod
    def parse(cls, value: str) -> HmacHeader:
        """Read a header value; DecodeError (with the offset in `value`) if malformed."""
        parameters: dict[str, str] = {}
        pos = 0
        while pos < len(value) and not value[pos:].isspace():
            match = _PARAMETER.match(value, pos)
            if match is None or match.end() == pos:
                raise DecodeError(f"malformed {HEADER_NAME} header", pos)
            key, raw = match.group(1).lower(), match.group(2)
            if key in parameters:
                raise DecodeError(f"{HEADER_NAME}: {key} given twice", match.start(1))
            parameters[key] = _UNESCAPE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
            pos = match.end()
        for required in ("username", "mac"):
            if not parameters.get(required):
                raise DecodeError(f"{HEADER_NAME} header lacks {required}", len(value))
        return cls(
            username=parameters["username"],
            mac=parameters["mac"],
            algorithm=parameters.get("algorithm", "MD5"),
        )

    def __str__(self) -> str:
        username = self.username.replace("\\", "\\\\").replace('"', '\\"')
        return f'algorithm={self.algorithm}, username="{username}", mac={self.mac}'
