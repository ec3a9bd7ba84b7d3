"""Media types, encoding detection, and the x-syncml-hmac header."""

from __future__ import annotations

import pytest

from dmclient.wire import DecodeError, Encoding, HmacHeader, decode, detect, encode, encoding_of
from wire_support import CORPUS, small_message


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/vnd.syncml.dm+xml", Encoding.XML),
        ("application/vnd.syncml.dm+wbxml", Encoding.WBXML),
        ("application/vnd.syncml+xml", Encoding.XML),  # what libdmclient sends
        ("application/vnd.syncml+wbxml", Encoding.WBXML),
        ("Application/VND.SyncML.DM+XML; charset=UTF-8", Encoding.XML),
        ('  application/vnd.syncml.dm+wbxml ; q="1"', Encoding.WBXML),
        ("application/xml", None),
        ("application/vnd.syncml.dm.notification", None),
        ("", None),
    ],
)
def test_content_type_to_encoding(content_type: str, encoding: Encoding | None) -> None:
    assert encoding_of(content_type) is encoding


def test_content_types_we_send() -> None:
    assert Encoding.XML.content_type == "application/vnd.syncml.dm+xml"
    assert Encoding.WBXML.content_type == "application/vnd.syncml.dm+wbxml"


def test_detect_and_decode_either_encoding() -> None:
    xml = (CORPUS / "pkg2_server.xml").read_bytes()
    wbxml = (CORPUS / "pkg2_server.libwbxml.wbxml").read_bytes()
    assert detect(xml) is Encoding.XML and detect(wbxml) is Encoding.WBXML
    assert detect(b"\xef\xbb\xbf<SyncML/>") is Encoding.XML and detect(b"\n<SyncML/>") is Encoding.XML
    assert decode(xml) == decode(wbxml)
    for encoding in Encoding:
        assert detect(encode(small_message(), encoding)) is encoding
        assert decode(encode(small_message(), encoding)) == small_message()


@pytest.mark.parametrize("data", [b"", b"HTTP/1.1 200 OK", b"\x80\x00"])
def test_detect_refuses_neither(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('algorithm=MD5, username="Bruce2", mac=Zz6EivR3yeaaENcRN6lpAQ==', HmacHeader("Bruce2", "Zz6EivR3yeaaENcRN6lpAQ==")),
        ('username="Bruce2", mac=Zz6EivR3yeaaENcRN6lpAQ==', HmacHeader("Bruce2", "Zz6EivR3yeaaENcRN6lpAQ==")),
        ('mac=abc=,username="a, \\"b\\"",ALGORITHM=MD5', HmacHeader('a, "b"', "abc=")),
        ('  algorithm = MD5 ,  username = "u" , mac = m  ', HmacHeader("u", "m")),
        ("algorithm=SHA1, username=plain, mac=x", HmacHeader("plain", "x", "SHA1")),
    ],
)
def test_hmac_header_parse(value: str, expected: HmacHeader) -> None:
    assert HmacHeader.parse(value) == expected


@pytest.mark.parametrize(
    "value",
    ['username="u"', "mac=m", 'username="unterminated, mac=m', 'username="u" mac=m', "garbage", 'username="u", username="v", mac=m', ""],
)
def test_hmac_header_malformed(value: str) -> None:
    with pytest.raises(DecodeError):
        HmacHeader.parse(value)


def test_hmac_header_build_round_trips() -> None:
    header = HmacHeader(username='odd "name" \\', mac="Zz6EivR3yeaaENcRN6lpAQ==")
    assert str(header) == 'algorithm=MD5, username="odd \\"name\\" \\\\", mac=Zz6EivR3yeaaENcRN6lpAQ=='
    assert HmacHeader.parse(str(header)) == header
