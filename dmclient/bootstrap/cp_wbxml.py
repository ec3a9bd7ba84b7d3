"""WBXML for OMA Client Provisioning documents (wap-provisioningdoc, public id 0x0B).

The SyncML codec in dmclient.wire knows no attributes, and CP is almost only attributes
(`<parm name="APPID" value="w7"/>`), so CP has this small codec of its own. Token
values are OMA ProvCont 1.1's, as libwbxml tabulates them; page 1 holds the OMA
additions (APPLICATION, APPADDR, APPAUTH, the AAUTH* parameters).

Decoding reads what a provisioning server sends: tag and attribute pages, attribute
start tokens with value prefixes, value tokens, inline and table strings, entities.
Every read is bounds-checked and anything unreadable raises CpWbxmlError. Encoding
writes WBXML 1.3 with no string table: tag tokens, one attribute start token per
attribute (a name=value token where one exists), values as inline strings.
"""

from __future__ import annotations

from lxml import etree

SWITCH_PAGE, END, ENTITY, STR_I, LITERAL, STR_T, OPAQUE = 0x00, 0x01, 0x02, 0x03, 0x04, 0x83, 0xC3
HAS_ATTRIBUTES, HAS_CONTENT = 0x80, 0x40
PROV_PUBLIC_ID = 0x0B  # -//WAPFORUM//DTD PROV 1.0//EN
PROV_PUBLIC_TEXT = "-//WAPFORUM//DTD PROV 1.0//EN"
WBXML_13, UTF8 = 0x03, 0x6A
MAX_DEPTH = 16

TAGS = {0x05: "wap-provisioningdoc", 0x06: "characteristic", 0x07: "parm"}  # both pages

_PARM_NAMES_0 = (
    "NAME NAP-ADDRESS NAP-ADDRTYPE CALLTYPE VALIDUNTIL AUTHTYPE AUTHNAME AUTHSECRET LINGER "
    "BEARER NAPID COUNTRY NETWORK INTERNET PROXY-ID PROXY-PROVIDER-ID DOMAIN PROVURL "
    "PXAUTH-TYPE PXAUTH-ID PXAUTH-PW STARTPAGE BASAUTH-ID BASAUTH-PW PUSHENABLED PXADDR "
    "PXADDRTYPE TO-NAPID PORTNBR SERVICE LINKSPEED DNLINKSPEED LOCAL-ADDR LOCAL-ADDRTYPE "
    "CONTEXT-ALLOW TRUST MASTER SID SOC WSP-VERSION PHYSICAL-PROXY-ID CLIENT-ID "
    "DELIVERY-ERR-SDU DELIVERY-ORDER TRAFFIC-CLASS MAX-SDU-SIZE MAX-BITRATE-UPLINK "
    "MAX-BITRATE-DNLINK RESIDUAL-BER SDU-ERROR-RATIO TRAFFIC-HANDL-PRIO TRANSFER-DELAY "
    "GUARANTEED-BITRATE-UPLINK GUARANTEED-BITRATE-DNLINK PXADDR-FQDN PROXY-PW PPGAUTH-TYPE"
).split()  # 0x07 to 0x3F in order
_TYPES_0 = ("PXLOGICAL PXPHYSICAL PORT VALIDITY NAPDEF BOOTSTRAP VENDORCONFIG CLIENTIDENTITY "
            "PXAUTHINFO NAPAUTHINFO ACCESS").split()  # 0x51 to 0x5B in order

#: Attribute start tokens per page: token -> (attribute, value prefix).
ATTR_STARTS: dict[int, dict[int, tuple[str, str]]] = {
    0: {
        0x05: ("name", ""), 0x06: ("value", ""), 0x45: ("version", ""),
        0x46: ("version", "1.0"), 0x50: ("type", ""),
        **{0x07 + i: ("name", n) for i, n in enumerate(_PARM_NAMES_0)},
        **{0x51 + i: ("type", t) for i, t in enumerate(_TYPES_0)},
        0x47: ("name", "PULLENABLED"), 0x48: ("name", "DNS-ADDR"),
        0x49: ("name", "MAX-NUM-RETRY"), 0x4A: ("name", "FIRST-RETRY-TIMEOUT"),
        0x4B: ("name", "REREG-THRESHOLD"), 0x4C: ("name", "T-BIT"),
        0x4E: ("name", "AUTH-ENTITY"), 0x4F: ("name", "SPI"),
    },
    1: {
        0x05: ("name", ""), 0x06: ("value", ""), 0x07: ("name", "NAME"),
        0x14: ("name", "INTERNET"), 0x1C: ("name", "STARTPAGE"), 0x22: ("name", "TO-NAPID"),
        0x23: ("name", "PORTNBR"), 0x24: ("name", "SERVICE"), 0x2E: ("name", "AACCEPT"),
        0x2F: ("name", "AAUTHDATA"), 0x30: ("name", "AAUTHLEVEL"),
        0x31: ("name", "AAUTHNAME"), 0x32: ("name", "AAUTHSECRET"),
        0x33: ("name", "AAUTHTYPE"), 0x34: ("name", "ADDR"), 0x35: ("name", "ADDRTYPE"),
        0x36: ("name", "APPID"), 0x37: ("name", "APROTOCOL"), 0x38: ("name", "PROVIDER-ID"),
        0x39: ("name", "TO-PROXY"), 0x3A: ("name", "URI"), 0x3B: ("name", "RULE"),
        0x50: ("type", ""), 0x53: ("type", "PORT"), 0x55: ("type", "APPLICATION"),
        0x56: ("type", "APPADDR"), 0x57: ("type", "APPAUTH"), 0x58: ("type", "CLIENTIDENTITY"),
        0x59: ("type", "RESOURCE"),
    },
}

_BEARERS = ("GSM-USSD GSM-SMS ANSI-136-GUTS IS-95-CDMA-SMS IS-95-CDMA-CSD IS-95-CDMA-PACKET "
            "ANSI-136-CSD ANSI-136-GPRS GSM-CSD GSM-GPRS AMPS-CDPD PDC-CSD PDC-PACKET IDEN-SMS "
            "IDEN-CSD IDEN-PACKET FLEX/REFLEX PHS-SMS PHS-CSD TRETRA-SDS TRETRA-PACKET "
            "ANSI-136-GHOST MOBITEX-MPAK CDMA2000-1X-SIMPLE-IP CDMA2000-1X-MOBILE-IP").split()
_SERVICES = ("CL-WSP CO-WSP CL-SEC-WSP CO-SEC-WSP CL-SEC-WTA CO-SEC-WTA OTA-HTTP-TO "
             "OTA-HTTP-TLS-TO OTA-HTTP-PO OTA-HTTP-TLS-PO").split()

#: Attribute value tokens per page.
ATTR_VALUES: dict[int, dict[int, str]] = {
    0: {
        **{0x85 + i: v for i, v in enumerate(
            "IPV4 IPV6 E164 ALPHA APN SCODE TETRA-ITSI MAN".split())},
        **{0x90 + i: v for i, v in enumerate(
            "ANALOG-MODEM V.120 V.110 X.31 BIT-TRANSPARENT "
            "DIRECT-ASYNCHRONOUS-DATA-SERVICE".split())},
        **{0x9A + i: v for i, v in enumerate("PAP CHAP HTTP-BASIC HTTP-DIGEST WTLS-SS MD5".split())},
        **{0xA2 + i: v for i, v in enumerate(_BEARERS)},
        0xC5: "AUTOBAUDING",
        **{0xCA + i: v for i, v in enumerate(_SERVICES)},
        0xE0: "AAA", 0xE1: "HA",
    },
    1: {
        0x86: "IPV6", 0x87: "E164", 0x88: "ALPHA", 0x8D: "APPSRV", 0x8E: "OBEX",
        # AAUTHTYPE pieces: ProvCont 1.1 moved them from 0x80-0x83 to 0x90-0x93.
        0x80: ",", 0x81: "HTTP-", 0x82: "BASIC", 0x83: "DIGEST",
        0x90: ",", 0x91: "HTTP-", 0x92: "BASIC", 0x93: "DIGEST",
    },
}

_TAG_TOKENS = {name: token for token, name in TAGS.items()}
_START_TOKENS = {page: {start: token for token, start in table.items()}
                 for page, table in ATTR_STARTS.items()}


class CpWbxmlError(ValueError):
    """A CP WBXML document that cannot be read or written; one line."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self.strings = b""

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise CpWbxmlError(f"truncated at byte {self.pos}")
        self.pos += 1
        return self.data[self.pos - 1]

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise CpWbxmlError(f"truncated at byte {self.pos}")
        return self.data[self.pos]

    def mb_uint32(self) -> int:
        value = 0
        for _ in range(5):
            byte = self.byte()
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                return value
        raise CpWbxmlError(f"over-long multi-byte integer before byte {self.pos}")

    def inline(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise CpWbxmlError(f"unterminated inline string at byte {self.pos}")
        text, self.pos = self.data[self.pos:end], end + 1
        return _utf8(text, self.pos)

    def table(self) -> str:
        offset = self.mb_uint32()
        end = self.strings.find(b"\x00", offset)
        if offset >= len(self.strings) or end < 0:
            raise CpWbxmlError(f"string table offset {offset} is out of range")
        return _utf8(self.strings[offset:end], self.pos)

    def opaque(self) -> str:
        length = self.mb_uint32()
        if self.pos + length > len(self.data):
            raise CpWbxmlError(f"OPAQUE of {length} bytes runs past the end")
        text, self.pos = self.data[self.pos:self.pos + length], self.pos + length
        return _utf8(text, self.pos)


def _utf8(raw: bytes, pos: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CpWbxmlError(f"string before byte {pos} is not UTF-8") from None


def decode(data: bytes) -> etree._Element:
    """A CP WBXML document as an lxml element tree."""
    reader = _Reader(data)
    version = reader.byte()
    if version > WBXML_13:
        raise CpWbxmlError(f"WBXML version byte 0x{version:02X} is not 1.0-1.3")
    public_id = reader.mb_uint32()
    text_id = reader.mb_uint32() if public_id == 0 else None
    charset = reader.mb_uint32()
    if charset not in (0, UTF8):
        raise CpWbxmlError(f"charset {charset} is not UTF-8")
    length = reader.mb_uint32()
    if reader.pos + length > len(data):
        raise CpWbxmlError("the string table runs past the end")
    reader.strings, reader.pos = data[reader.pos:reader.pos + length], reader.pos + length
    if text_id is not None:
        end = reader.strings.find(b"\x00", text_id)
        if reader.strings[text_id:end] != PROV_PUBLIC_TEXT.encode():
            raise CpWbxmlError("not a provisioning document (public id)")
    elif public_id not in (PROV_PUBLIC_ID, 0x01):  # 0x01: unknown, as some servers write
        raise CpWbxmlError(f"public id 0x{public_id:02X} is not PROV 1.0 (0x0B)")
    pages = {"tag": 0, "attr": 0}
    while reader.peek() == SWITCH_PAGE:
        reader.byte()
        pages["tag"] = reader.byte()
    root = _element(reader, pages, None, 0)
    if reader.pos != len(data):
        raise CpWbxmlError(f"{len(data) - reader.pos} bytes after the document")
    return root


def _element(reader: _Reader, pages: dict[str, int], parent: etree._Element | None,
             depth: int) -> etree._Element:
    if depth > MAX_DEPTH:
        raise CpWbxmlError(f"elements nested deeper than {MAX_DEPTH}")
    token = reader.byte()
    name = TAGS.get(token & 0x3F) if pages["tag"] in (0, 1) else None
    if name is None:
        raise CpWbxmlError(f"unknown tag token 0x{token:02X} on page {pages['tag']} "
                           f"before byte {reader.pos}")
    element = etree.Element(name) if parent is None else etree.SubElement(parent, name)
    if token & HAS_ATTRIBUTES:
        for attr, value in _attributes(reader, pages):
            try:
                element.set(attr, value)
            except ValueError:  # control characters, or a LITERAL name XML cannot have
                raise CpWbxmlError(f"attribute {attr!r} of <{name}> cannot be held in XML "
                                   f"(before byte {reader.pos})") from None
    if token & HAS_CONTENT:
        while True:
            byte = reader.peek()
            if byte == END:
                reader.byte()
                break
            if byte == SWITCH_PAGE:
                reader.byte()
                pages["tag"] = reader.byte()
            elif byte in (STR_I, STR_T, ENTITY, OPAQUE):
                if _string(reader).strip():
                    raise CpWbxmlError(f"text inside <{name}> (CP has element content only)")
            else:
                _element(reader, pages, element, depth + 1)
    return element


def _string(reader: _Reader) -> str:
    token = reader.byte()
    if token == STR_I:
        return reader.inline()
    if token == STR_T:
        return reader.table()
    if token == ENTITY:
        code = reader.mb_uint32()
        if code > 0x10FFFF:
            raise CpWbxmlError(f"entity {code} is not a character")
        return chr(code)
    return reader.opaque()


def _attributes(reader: _Reader, pages: dict[str, int]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    name: str | None = None
    value: list[str] = []
    while True:
        byte = reader.peek()
        if byte == SWITCH_PAGE:
            reader.byte()
            pages["attr"] = reader.byte()
            continue
        if byte in (END, LITERAL) or byte < 0x80 and byte not in (STR_I, ENTITY):
            if name is not None:
                found.append((name, "".join(value)))
            reader.byte()
            if byte == END:
                return found
            if byte == LITERAL:
                name, value = reader.table(), []
            else:
                start = ATTR_STARTS.get(pages["attr"], {}).get(byte)
                if start is None:
                    raise CpWbxmlError(f"unknown attribute token 0x{byte:02X} on page "
                                       f"{pages['attr']} before byte {reader.pos}")
                name, value = start[0], [start[1]]
            continue
        if name is None:
            raise CpWbxmlError(f"attribute value with no attribute before byte {reader.pos}")
        if byte in (STR_I, STR_T, ENTITY, OPAQUE):
            value.append(_string(reader))
        else:
            reader.byte()
            piece = ATTR_VALUES.get(pages["attr"], {}).get(byte)
            if piece is None:
                raise CpWbxmlError(f"unknown attribute value token 0x{byte:02X} on page "
                                   f"{pages['attr']} before byte {reader.pos}")
            value.append(piece)


def encode(root: etree._Element) -> bytes:
    """A wap-provisioningdoc element tree as WBXML 1.3."""
    out = bytearray([WBXML_13, PROV_PUBLIC_ID, UTF8, 0x00])
    _encode_element(root, out, {"attr": 0})
    return bytes(out)


def _encode_element(element: etree._Element, out: bytearray, pages: dict[str, int]) -> None:
    token = _TAG_TOKENS.get(element.tag) if isinstance(element.tag, str) else None
    if token is None:
        raise CpWbxmlError(f"no CP token for element {element.tag!r}")
    children = [c for c in element if isinstance(c.tag, str)]
    if element.text and element.text.strip():
        raise CpWbxmlError(f"text inside <{element.tag}> cannot be encoded")
    attributes = list(element.attrib.items())
    out.append(token | (HAS_ATTRIBUTES if attributes else 0) | (HAS_CONTENT if children else 0))
    if attributes:
        for name, value in attributes:
            _encode_attribute(str(name), str(value), out, pages)
        out.append(END)
    if children:
        for child in children:
            _encode_element(child, out, pages)
        out.append(END)


def _encode_attribute(name: str, value: str, out: bytearray, pages: dict[str, int]) -> None:
    """A name=value start token when a page has one, else the bare name and an inline value."""
    for wanted, rest in (((name, value), ""), ((name, ""), value)):
        for page in sorted(_START_TOKENS, key=lambda p: p != pages["attr"]):
            token = _START_TOKENS[page].get(wanted)
            if token is None:
                continue
            if page != pages["attr"]:
                out += bytes([SWITCH_PAGE, page])
                pages["attr"] = page
            out.append(token)
            if rest:
                out.append(STR_I)
                out += rest.encode("utf-8") + b"\x00"
            return
    raise CpWbxmlError(f"no CP token for attribute {name!r}")
