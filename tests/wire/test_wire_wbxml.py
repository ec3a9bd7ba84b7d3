"""The WBXML codec: the bytes it writes, every header and token form it reads, and
every malformed input it refuses with DecodeError."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dmclient.wire import DecodeError, EmbeddedXml, decode_wbxml, decode_xml, encode_wbxml
from wire_support import CORPUS, small_message

SYNCML_12 = b"\xa4\x01"  # public id 0x1201 as mb_u_int32
UTF8 = b"\x6a"


def inline(text: str) -> bytes:
    return b"\x03" + text.encode() + b"\x00"


def tag(token: int, *content: bytes) -> bytes:
    return bytes([token | 0x40]) + b"".join(content) + b"\x01"


def small_body(text: Callable[[str], bytes] = inline, switch: bytes = b"") -> bytes:
    """small_message() as tokens; `text` writes each string, `switch` goes before each
    tag (redundant SWITCH_PAGEs)."""

    def t(token: int, *content: bytes) -> bytes:
        return switch + tag(token, *content)

    def leaf(token: int, value: str) -> bytes:
        return t(token, text(value))

    def metinf(*fields: bytes) -> bytes:
        return t(0x1A, b"\x00\x01", *fields, b"\x00\x00")  # Meta, fields on page 1, back to 0

    return t(
        0x2D,  # SyncML
        t(
            0x2C,  # SyncHdr
            leaf(0x31, "1.2"), leaf(0x32, "DM/1.2"), leaf(0x25, "1"), leaf(0x1B, "2"),
            t(0x2E, leaf(0x17, "http://s/dm")),
            t(0x27, leaf(0x17, "IMEI:1"), leaf(0x16, "u")),
            t(0x0E, metinf(tag(0x07, text("b64")), tag(0x13, text("syncml:auth-basic"))), leaf(0x0F, "dTpw")),
            metinf(tag(0x0C, text("16384"))),
        ),
        t(
            0x2B,  # SyncBody
            t(0x29, leaf(0x0B, "1"), leaf(0x1C, "1"), leaf(0x0C, "0"), leaf(0x0A, "SyncHdr"), leaf(0x2F, "IMEI:1"), leaf(0x0F, "200")),
            t(
                0x20,  # Replace
                leaf(0x0B, "2"),
                t(0x14, t(0x27, leaf(0x17, "./DevInfo/Mod")), metinf(tag(0x07, text("chr"))), leaf(0x0F, "a<b&c\r")),
            ),
            switch + b"\x12",  # Final
        ),
    )


def document(body: bytes, header: bytes = b"\x02" + SYNCML_12 + UTF8 + b"\x00") -> bytes:
    return header + body


def test_encoding_is_compact_and_needs_no_string_table() -> None:
    encoded = encode_wbxml(small_message())
    assert encoded.startswith(bytes.fromhex("02A4016A00") + b"\x6d\x6c\x71\x031.2\x00\x01")
    expected_tail = (  # the Cred Meta switches to page 1 and back, as libdmclient's capture does
        b"\x4e\x5a\x00\x01\x47\x03b64\x00\x01\x53\x03syncml:auth-basic\x00\x01\x01\x00\x00\x4f\x03dTpw\x00\x01\x01"
    )
    assert expected_tail in encoded
    assert decode_wbxml(encoded) == small_message()


def test_version_1_1_uses_its_public_id() -> None:
    message = decode_xml((CORPUS / "dm11_session.xml").read_bytes())
    encoded = encode_wbxml(message)
    assert encoded.startswith(bytes.fromhex("029F536A00"))
    assert decode_wbxml(encoded) == message


def table_text(table: dict[str, int]) -> Callable[[str], bytes]:
    """Strings as STR_T references into a string table (offsets given in `table`)."""

    def text(value: str) -> bytes:
        if value in table:
            return b"\x83" + bytes([table[value]])
        return inline(value)

    return text


STRING_TABLE = b"IMEI:1\x00DM/1.2\x00http://s/dm\x00"
IN_TABLE = {"IMEI:1": 0, "DM/1.2": 7, "http://s/dm": 14, "1.2": 10, "dm": 23}  # 10 and 23: inside entries


def split(value: str) -> bytes:
    """Each string as several pieces: inline, a table reference, an entity, OPAQUE."""
    if len(value) < 3:
        return inline(value)
    return inline(value[0]) + b"\x02" + bytes([ord(value[1])]) + b"\xc3" + bytes([len(value[2:].encode())]) + value[2:].encode()


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(document(small_body()), id="wbxml-1.2"),
        pytest.param(document(small_body(), b"\x03" + SYNCML_12 + UTF8 + b"\x00"), id="wbxml-1.3"),
        pytest.param(document(small_body(), b"\x01" + SYNCML_12 + UTF8 + b"\x00"), id="wbxml-1.1"),
        pytest.param(document(small_body(), b"\x00" + SYNCML_12 + b"\x00"), id="wbxml-1.0-no-charset"),
        pytest.param(document(small_body(), b"\x02\x9f\x53" + UTF8 + b"\x00"), id="public-id-0x0FD3"),
        pytest.param(document(small_body(), b"\x02\xa4\x02" + UTF8 + b"\x00"), id="public-id-0x1202"),
        pytest.param(document(small_body(), b"\x02\x01" + UTF8 + b"\x00"), id="public-id-unknown"),
        pytest.param(
            document(small_body(), b"\x02\x00\x00" + UTF8 + b"\x1e-//SYNCML//DTD SyncML 1.2//EN\x00"),
            id="public-id-in-string-table",
        ),
        pytest.param(
            document(small_body(), b"\x02\x00\x05" + UTF8 + b"\x23skip\x00-//SYNCML//DTD SyncML 1.1//EN\x00"),
            id="public-id-at-table-offset",
        ),
        pytest.param(
            document(small_body(table_text(IN_TABLE)), b"\x02" + SYNCML_12 + UTF8 + bytes([len(STRING_TABLE)]) + STRING_TABLE),
            id="string-table-references",
        ),
        pytest.param(document(small_body(split)), id="text-in-pieces"),
        pytest.param(document(small_body(switch=b"\x00\x00")), id="switch-page-before-every-tag"),
        pytest.param(document(small_body(switch=b"\x00\x02\x00\x07\x00\x00")), id="switch-through-other-pages"),
        pytest.param(
            document(small_body(lambda value: b"\xc3" + bytes([len(value.encode())]) + value.encode())),
            id="opaque-text",
        ),
    ],
)
def test_every_header_and_token_form_reads_the_same_message(encoded: bytes) -> None:
    assert decode_wbxml(encoded) == small_message()


def test_latin1_charset() -> None:
    body = small_body(lambda value: b"\x03" + value.replace("Mod", "Mød").encode("latin-1") + b"\x00")
    message = decode_wbxml(document(body, b"\x02" + SYNCML_12 + b"\x04\x00"))
    assert message.body.commands[1].items[0].source.loc_uri == "./DevInfo/Mød"


def test_binary_opaque_data_stays_bytes() -> None:
    message = small_message()
    message.body.commands[1].items[0].data = b"\x00\xff\x10binary"
    encoded = encode_wbxml(message)
    assert b"\xc3\x09\x00\xff\x10binary" in encoded
    assert decode_wbxml(encoded) == message
    message.body.commands[1].items[0].data = "text with a NUL\x00"  # cannot be an inline string
    assert decode_wbxml(encode_wbxml(message)) == message


def tnds_message():
    return decode_xml((CORPUS / "pkg3_client.xml").read_bytes())


def test_embedded_tnds_travels_as_a_wbxml_document_typed_wbxml() -> None:
    message = tnds_message()
    encoded = encode_wbxml(message)
    assert b"application/vnd.syncml.dmtnds+wbxml" in encoded
    assert b"\x02\x00\x00\x6a\x1b-//OMA//DTD-DM-DDF 1.2//EN\x00\x00\x02\x60" in encoded
    decoded = decode_wbxml(encoded)
    assert decoded == message
    results = decoded.body.commands[3]
    assert results.items[0].meta.type == "application/vnd.syncml.dmtnds+xml"
    assert isinstance(results.items[0].data, EmbeddedXml)
    assert message.body.commands[3].items[0].meta.type == "application/vnd.syncml.dmtnds+xml"  # not mutated


def read_mb_uint32(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = value << 7 | byte & 0x7F
        if byte < 0x80:
            return value, pos


def test_ddf_tokens_inline_in_data_read_as_embedded_xml() -> None:
    """Unwrap our embedded document: its body tokens go straight into Data."""
    encoded = encode_wbxml(tnds_message())
    start = encoded.index(b"\xc3", encoded.index(b"dmtnds+wbxml"))
    length, document_start = read_mb_uint32(encoded, start + 1)
    embedded = encoded[document_start : document_start + length]
    body = embedded[embedded.index(b"//EN\x00") + 5 :]
    inline_form = encoded[:start] + body + b"\x00\x00" + encoded[document_start + length :]
    assert decode_wbxml(inline_form) == tnds_message()


def test_opaque_that_only_looks_like_wbxml_stays_data() -> None:
    message = small_message()
    message.body.commands[1].items[0].data = b"\x02\x00\x00\x6a\x00\xff"  # a header, then garbage
    assert decode_wbxml(encode_wbxml(message)) == message


GOOD = document(small_body())


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        pytest.param(b"", 0, id="empty"),
        pytest.param(b"\x02\xa4", 2, id="too-short"),
        pytest.param(b"\x07" + GOOD[1:], 0, id="unknown-version"),
        pytest.param(b"\x02\xff\xff\xff\xff\xff\x01\x6a\x00", 1, id="over-long-mb-int"),
        pytest.param(b"\x02\xa4\x01\x6a\x85", 4, id="truncated-mb-int"),
        pytest.param(b"\x02\xa4\x01\x6a\x7f\x00\x00", 5, id="string-table-past-end"),
        pytest.param(b"\x02\x00\x09\x6a\x02a\x00" + small_body(), 5, id="public-id-index-out-of-table"),
        pytest.param(b"\x02\x00\x00\x6a\x02ab" + small_body(), 5, id="public-id-without-nul"),
        pytest.param(b"\x02\xa4\x03\x6a\x00" + small_body(), 1, id="devinf-public-id"),
        pytest.param(b"\x02\xa4\x01\x87\x77\x00" + small_body(), 3, id="utf-16-charset"),
        pytest.param(document(b"\x6d\x6c\x71\x83\x05\x01"), 8, id="table-reference-out-of-range"),
        pytest.param(document(b"\x6d\x6c\x71\x031.2"), 8, id="string-without-nul"),
        pytest.param(document(b"\x6d\x6c\x71\x03\xff\xfe\x00\x01"), 8, id="invalid-utf8"),
        pytest.param(document(b"\x6d\x6c\x4f\xc3\x8f\xff\xff\xff\x7f\x00"), 8, id="opaque-past-end"),
        pytest.param(document(b"\x6d\x70\x01\x01"), 6, id="unassigned-token-0x30"),
        pytest.param(document(b"\x6d\x00\x07\x45\x01\x01"), 8, id="page-without-table"),
        pytest.param(document(b"\x6d\xc5\x01\x01\x01"), 6, id="attributes"),
        pytest.param(document(b"\x6d\x04\x00\x01"), 6, id="literal-tag"),
        pytest.param(document(b"\x6d\x43\x01"), 6, id="processing-instruction"),
        pytest.param(document(b"\x6d\x80\x00\x01"), 6, id="extension-token"),
        pytest.param(document(b"\x6d\x4f\x02\x84\x80\x80\x00\x01\x01"), 7, id="entity-beyond-unicode"),
        pytest.param(document(b"\x6d\x4f\x02\x83\xb0\x00\x01\x01"), 7, id="surrogate-entity"),
        pytest.param(document(b"\x01"), 5, id="end-outside-element"),
        pytest.param(document(b"\x031\x00\x6d\x01"), 5, id="text-before-root"),
        pytest.param(GOOD + b"\x12", len(GOOD), id="data-after-root"),
        pytest.param(GOOD[:-3], len(GOOD) - 3, id="truncated"),
        pytest.param(document(b"\x6d\x00"), 7, id="truncated-switch-page"),
        pytest.param(document(b"\x6d" + b"\x48" * 5000), 5 + 101, id="nesting-bomb"),
        pytest.param(document(b"\x6c\x01"), 5, id="not-syncml-root"),
        pytest.param(document(small_body().replace(b"\x4f\x03200\x00\x01", b"\x4f\x03two\x00\x01", 1)), None, id="bad-status-code"),
    ],
)
def test_malformed_input_is_a_decode_error_with_an_offset(data: bytes, offset: int | None) -> None:
    with pytest.raises(DecodeError) as error:
        decode_wbxml(data)
    if offset is not None:
        assert error.value.offset == offset


def test_size_limit() -> None:
    with pytest.raises(DecodeError, match="limit"):
        decode_wbxml(GOOD, max_size=len(GOOD) - 1)
    assert decode_wbxml(GOOD, max_size=len(GOOD)) == small_message()
