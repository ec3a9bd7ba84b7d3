"""SEC types and the MAC, each checked against values worked out here with `hmac`."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from bootstrap_support import IMSI, PIN

from dmclient.bootstrap import (DM_WBXML, BootstrapError, ContentType, SecType, Secrets,
                                netwpin_key, sign, verify)

BODY = b"\x02\xa4\x01\x6a\x00 any bootstrap body bytes"

# 234150123456789 has 15 digits: prefix 9 -> 9234150123456789; pairs 92 34 15 01 23 45
# 67 89, nibbles swapped -> 29 43 51 10 32 54 76 98.
NETWPIN_KEY = bytes([0x29, 0x43, 0x51, 0x10, 0x32, 0x54, 0x76, 0x98])
# 14 digits: prefix 1 and append F -> 100101012345678F -> 01 10 10 10 32 54 76 F8.
EVEN_IMSI, EVEN_KEY = "00101012345678", bytes([0x01, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0xF8])


def hmac_hex(key: bytes, body: bytes = BODY) -> str:
    return hmac.new(key, body, hashlib.sha1).hexdigest()


def test_netwpin_key_is_the_imsi_in_swapped_semi_octets() -> None:
    assert netwpin_key(IMSI) == NETWPIN_KEY
    assert netwpin_key(EVEN_IMSI) == EVEN_KEY
    with pytest.raises(BootstrapError, match="1 to 15 digits"):
        netwpin_key("23415-0123")


@pytest.mark.parametrize("sec, key", [
    (SecType.NETWPIN, NETWPIN_KEY),
    (SecType.USERPIN, PIN.encode()),
    (SecType.USERNETWPIN, NETWPIN_KEY + PIN.encode()),
    (SecType.USERPINMAC, PIN.encode()),
], ids=lambda v: getattr(v, "name", None))
def test_each_sec_type_macs_with_its_key(sec: SecType, key: bytes) -> None:
    signature = sign(BODY, DM_WBXML, sec, Secrets(imsi=IMSI, pin=PIN))
    expected = hmac_hex(key)
    assert signature.content_type.mac == expected.upper()
    assert str(signature.content_type) == f"{DM_WBXML}; SEC={int(sec)}; MAC={expected.upper()}"
    handset_pin = signature.user_code if sec is SecType.USERPINMAC else PIN
    verify(BODY, signature.content_type, Secrets(imsi=IMSI, pin=handset_pin))
    # Lower-case hex from a peer is read too.
    verify(BODY, ContentType(DM_WBXML, sec, expected.lower()), Secrets(IMSI, handset_pin))


def test_userpinmac_code_is_the_pin_and_one_digit_per_pin_digit() -> None:
    digest = hmac.new(PIN.encode(), BODY, hashlib.sha1).digest()
    expected = PIN + "".join(str(b % 10) for b in digest[:len(PIN)])
    signature = sign(BODY, DM_WBXML, SecType.USERPINMAC, Secrets(pin=PIN))
    assert signature.user_code == expected
    # The MAC parameter is optional with USERPINMAC: the digits are the check.
    verify(BODY, ContentType(DM_WBXML, SecType.USERPINMAC), Secrets(pin=expected))
    wrong = expected[:-1] + str((int(expected[-1]) + 1) % 10)
    with pytest.raises(BootstrapError, match="check digits do not match"):
        verify(BODY, ContentType(DM_WBXML, SecType.USERPINMAC), Secrets(pin=wrong))
    with pytest.raises(BootstrapError, match="even number"):
        verify(BODY, ContentType(DM_WBXML, SecType.USERPINMAC), Secrets(pin=expected[:-1]))


@pytest.mark.parametrize("content_type, secrets, reason", [
    (ContentType(DM_WBXML), Secrets(pin=PIN), "no SEC"),
    (ContentType(DM_WBXML, SecType.USERPIN), Secrets(pin=PIN), "no MAC"),
    (ContentType(DM_WBXML, SecType.USERPIN, "12AB"), Secrets(pin=PIN), "40 hex digits"),
    (ContentType(DM_WBXML, SecType.USERPIN, hmac_hex(b"4321")), Secrets(pin=PIN),
     r"MAC mismatch \(SEC=USERPIN\)"),
    (ContentType(DM_WBXML, SecType.NETWPIN, hmac_hex(NETWPIN_KEY)), Secrets(imsi=EVEN_IMSI),
     r"MAC mismatch \(SEC=NETWPIN\)"),
    (ContentType(DM_WBXML, SecType.NETWPIN, hmac_hex(NETWPIN_KEY)), Secrets(pin=PIN),
     "needs the IMSI"),
    (ContentType(DM_WBXML, SecType.USERNETWPIN, hmac_hex(NETWPIN_KEY)), Secrets(imsi=IMSI),
     "needs a PIN"),
])
def test_unsigned_or_wrongly_keyed_bodies_are_refused(content_type: ContentType,
                                                      secrets: Secrets, reason: str) -> None:
    with pytest.raises(BootstrapError, match=reason):
        verify(BODY, content_type, secrets)


def test_a_changed_or_cut_body_fails_the_mac() -> None:
    content_type = sign(BODY, DM_WBXML, SecType.USERPIN, Secrets(pin=PIN)).content_type
    for body in (BODY[:-1], BODY + b"\x00", b"X" + BODY[1:]):
        with pytest.raises(BootstrapError, match="MAC mismatch"):
            verify(body, content_type, Secrets(pin=PIN))


def test_content_type_parameters_parse_by_code_or_name() -> None:
    parsed = ContentType.parse('application/vnd.syncml.dm+wbxml;sec="USERNETWPIN" ; MAC=ab12')
    assert parsed == ContentType(DM_WBXML, SecType.USERNETWPIN, "ab12")
    assert ContentType.parse(f"{DM_WBXML}; SEC=NETWORKID").sec is SecType.NETWPIN
    assert ContentType.parse(f"{DM_WBXML}; SEC=3").sec is SecType.USERPINMAC
    assert ContentType.parse(DM_WBXML) == ContentType(DM_WBXML)
    with pytest.raises(BootstrapError, match="unknown SEC '7'"):
        ContentType.parse(f"{DM_WBXML}; SEC=7; MAC=00")
