"""Bootstrap security: SEC types, their keys, and the MAC in the content type.

A bootstrap is authenticated by HMAC-SHA1 over its exact body bytes, keyed by something
the handset already holds; the content type names the key (SEC) and carries the MAC as
hex (we write uppercase, as Funambol does, and read either case):

    application/vnd.syncml.dm+wbxml; SEC=1; MAC=9F3A…

The keys, as this project reads the digest (§7):

- NETWPIN (0): the IMSI in semi-octets. Prefix `9` if the digit count is odd, else
  prefix `1` and append `F`; then swap the two nibbles of every byte:
  `234150123456789` → `9234150123456789` → `29 43 51 10 32 54 76 98`.
- USERPIN (1): the PIN as ASCII.
- USERNETWPIN (2): the NETWPIN key followed by the PIN as ASCII, no separator. Of the
  three variants the digest lists, this is the one that two independent implementations
  (Funambol's server, Android's CP client) and the WAP ProvBoot wording agree on.
- USERPINMAC (3): the user is given the PIN followed by one check digit per PIN digit,
  digit i being byte i of HMAC-SHA1(PIN, body) mod 10. The handset is told that whole
  code, keys with its first half and checks its second half (as Android's client does).
  The MAC parameter is optional with this type; when present it must match as well (our
  server always sends it, so every signed body carries the same parameters).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import IntEnum

from dmclient.bootstrap.errors import BootstrapError

DM_WBXML = "application/vnd.syncml.dm+wbxml"
CP_WBXML = "application/vnd.wap.connectivity-wbxml"
CP_XML = "text/vnd.wap.connectivity-xml"

_IMSI = re.compile(r"[0-9]{1,15}\Z")
_MAC = re.compile(r"[0-9A-Fa-f]{40}\Z")


class SecType(IntEnum):
    NETWPIN = 0
    USERPIN = 1
    USERNETWPIN = 2
    USERPINMAC = 3

    @classmethod
    def parse(cls, value: str | int) -> SecType:
        """A SEC value by code (`1`) or by its CP or DM-Security name (`USERPIN`)."""
        text = str(value).strip().upper()
        if text.isdigit() and int(text) in cls._value2member_map_:
            return cls(int(text))
        found = _NAMES.get(text)
        if found is None:
            raise BootstrapError(f"unknown SEC {value!r} (expected 0-3 or "
                                 f"{'|'.join(m.name for m in cls)})")
        return found


_NAMES = {**{m.name: m for m in SecType}, "NETWORKID": SecType.NETWPIN,
          "USERPIN_NETWORKID": SecType.USERNETWPIN}


@dataclass(frozen=True, slots=True)
class Secrets:
    """What a bootstrap is keyed with: the SIM's IMSI and the PIN.

    On the server `pin` is the PIN itself. On the handset it is what the user was told:
    the same PIN, except for USERPINMAC, where it is the PIN followed by its check digits.
    """

    imsi: str | None = None
    pin: str | None = None


@dataclass(frozen=True, slots=True)
class ContentType:
    """A bootstrap's media type with its SEC and MAC parameters."""

    media_type: str
    sec: SecType | None = None
    mac: str | None = None

    def __str__(self) -> str:
        parts = [self.media_type]
        if self.sec is not None:
            parts.append(f"SEC={int(self.sec)}")
        if self.mac is not None:
            parts.append(f"MAC={self.mac}")
        return "; ".join(parts)

    @classmethod
    def parse(cls, text: str) -> ContentType:
        media_type, *params = text.split(";")
        values: dict[str, str] = {}
        for param in params:
            name, sep, value = param.partition("=")
            if sep:
                values[name.strip().upper()] = value.strip().strip('"')
        sec = values.get("SEC")
        return cls(media_type.strip().lower(), SecType.parse(sec) if sec is not None else None,
                   values.get("MAC"))


@dataclass(frozen=True, slots=True)
class Signature:
    content_type: ContentType
    user_code: str | None = None  # USERPINMAC: what the user must be given


def netwpin_key(imsi: str) -> bytes:
    """The IMSI in semi-octets, each byte's nibbles swapped (the NETWPIN key)."""
    if not _IMSI.match(imsi):
        raise BootstrapError(f"IMSI {imsi!r} is not 1 to 15 digits")
    padded = "9" + imsi if len(imsi) % 2 else "1" + imsi + "F"
    return bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def signing_key(sec: SecType, secrets: Secrets) -> bytes:
    """The HMAC key of `sec`; for USERPINMAC, `secrets.pin` is the PIN alone."""
    if sec in (SecType.NETWPIN, SecType.USERNETWPIN):
        if not secrets.imsi:
            raise BootstrapError(f"SEC={sec.name} needs the IMSI, and none is set")
        network = netwpin_key(secrets.imsi)
        if sec is SecType.NETWPIN:
            return network
        return network + _pin(sec, secrets.pin)
    return _pin(sec, secrets.pin)


def _pin(sec: SecType, pin: str | None) -> bytes:
    if not pin:
        raise BootstrapError(f"SEC={sec.name} needs a PIN, and none is set")
    if not pin.isascii():
        raise BootstrapError(f"SEC={sec.name}: the PIN must be ASCII")
    return pin.encode("ascii")


def mac(key: bytes, body: bytes) -> str:
    """HMAC-SHA1 of the body as uppercase hex."""
    return hmac.new(key, body, hashlib.sha1).hexdigest().upper()


def check_digits(pin: str, body: bytes) -> str:
    """USERPINMAC: one digit per PIN character, byte i of HMAC-SHA1(PIN, body) mod 10."""
    digest = hmac.new(pin.encode("ascii"), body, hashlib.sha1).digest()
    if len(pin) > len(digest):
        raise BootstrapError(f"SEC=USERPINMAC: a PIN of {len(pin)} characters is over "
                             f"the {len(digest)} an HMAC-SHA1 can check")
    return "".join(str(b % 10) for b in digest[:len(pin)])


def sign(body: bytes, media_type: str, sec: SecType, secrets: Secrets) -> Signature:
    """The content type that authenticates `body` (server side: `secrets.pin` is the PIN)."""
    key = signing_key(sec, secrets)
    user_code = None
    if sec is SecType.USERPINMAC:
        assert secrets.pin is not None  # signing_key checked it
        user_code = secrets.pin + check_digits(secrets.pin, body)
    return Signature(ContentType(media_type, sec, mac(key, body)), user_code)


def verify(body: bytes, content_type: ContentType, secrets: Secrets) -> None:
    """Raise BootstrapError unless the body is signed with a key this handset holds."""
    sec, given = content_type.sec, content_type.mac
    if sec is None:
        raise BootstrapError("the bootstrap is not signed: its content type has no SEC")
    if given is not None and not _MAC.match(given):
        raise BootstrapError("the MAC parameter is not 40 hex digits")
    if sec is SecType.USERPINMAC:
        code = _pin(sec, secrets.pin).decode("ascii")
        if len(code) % 2:
            raise BootstrapError("SEC=USERPINMAC needs the PIN followed by its check "
                                 "digits (an even number of characters)")
        pin, digits = code[:len(code) // 2], code[len(code) // 2:]
        key = pin.encode("ascii")
        if not hmac.compare_digest(check_digits(pin, body), digits):
            raise BootstrapError("check digits do not match (SEC=USERPINMAC): wrong PIN, "
                                 "or the body was altered or cut")
    else:
        if given is None:
            raise BootstrapError("the bootstrap is not signed: its content type has no MAC")
        key = signing_key(sec, secrets)
    if given is not None and not hmac.compare_digest(mac(key, body), given.upper()):
        raise BootstrapError(f"MAC mismatch (SEC={sec.name}): wrong key, or the body was "
                             "altered or cut")
