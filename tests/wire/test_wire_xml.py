"""The XML codec: what it reads, what it writes, and what it refuses."""

from __future__ import annotations

import pytest

from dmclient.wire import (
    Add,
    AlertCode,
    Atomic,
    DecodeError,
    Delete,
    EmbeddedXml,
    EncodeError,
    Exec,
    Get,
    Meta,
    Replace,
    Sequence,
    Status,
    StatusCode,
    decode_xml,
    embed_xml,
    encode_xml,
)
from wire_support import CORPUS, small_message

SMALL_XML = (
    '<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>'
    "<SessionID>1</SessionID><MsgID>2</MsgID><Target><LocURI>http://s/dm</LocURI></Target>"
    "<Source><LocURI>IMEI:1</LocURI><LocName>u</LocName></Source>"
    '<Cred><Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">syncml:auth-basic</Type>'
    '</Meta><Data>dTpw</Data></Cred><Meta><MaxMsgSize xmlns="syncml:metinf">16384</MaxMsgSize></Meta>'
    "</SyncHdr><SyncBody><Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd>"
    "<TargetRef>IMEI:1</TargetRef><Data>200</Data></Status><Replace><CmdID>2</CmdID><Item><Source>"
    '<LocURI>./DevInfo/Mod</LocURI></Source><Meta><Format xmlns="syncml:metinf">chr</Format></Meta>'
    "<Data>a&lt;b&amp;c&#13;</Data></Item></Replace><Final/></SyncBody></SyncML>"
).encode()


def wrap(body: str, header: str = "") -> bytes:
    """A minimal message around some SyncBody content."""
    return (
        '<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>'
        "<SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>t</LocURI></Target>"
        f"<Source><LocURI>s</LocURI></Source>{header}</SyncHdr><SyncBody>{body}</SyncBody></SyncML>"
    ).encode()


def test_encoding_is_canonical() -> None:
    assert encode_xml(small_message()) == SMALL_XML
    assert decode_xml(SMALL_XML) == small_message()


def test_decodes_the_server_package_field_by_field() -> None:
    message = decode_xml((CORPUS / "pkg2_server.xml").read_bytes())
    header, commands = message.header, message.body.commands
    assert (header.ver_dtd, header.ver_proto, header.session_id, header.msg_id) == ("1.2", "DM/1.2", "1A2B", "1")
    assert header.resp_uri == "https://dms1.lab.example:8443/dm?sid=1A2B&mid=2"
    assert header.meta == Meta(max_msg_size=16384)
    status = commands[0]
    assert isinstance(status, Status) and status.code is StatusCode.AUTHENTICATED
    assert status.chal == Meta(type="syncml:auth-md5", format="b64", next_nonce="ZG1zMS1uZXh0LW5vbmNl")
    get = commands[2]
    assert isinstance(get, Get) and get.lang == "en" and [i.target.loc_uri for i in get.items][-1] == "./DMAcc?list=TNDS+ACL"
    assert isinstance(commands[3], Replace) and commands[3].no_resp
    assert isinstance(commands[4], Add) and commands[4].meta == Meta(format="node")
    assert isinstance(commands[5], Delete) and commands[5].archive and commands[5].sft_del
    exec_ = commands[7]
    assert isinstance(exec_, Exec) and exec_.correlator == "exec-42" and exec_.item.data == "now"
    atomic, sequence = commands[8], commands[9]
    assert isinstance(atomic, Atomic) and [type(c).__name__ for c in atomic.commands] == ["Add", "Replace", "Delete"]
    assert isinstance(sequence, Sequence) and sequence.commands[0].code is AlertCode.CONFIRM_OR_REJECT
    assert [c.code for c in commands[10:]] == [1100, 1102, 1103, 1104]
    assert commands[10].items[1].data == "Géré par le labo"
    assert message.body.final


def test_version_1_1_keeps_its_namespace() -> None:
    message = decode_xml((CORPUS / "dm11_session.xml").read_bytes())
    assert (message.header.ver_dtd, message.header.ver_proto) == ("1.1", "DM/1.1")
    assert encode_xml(message).startswith(b'<SyncML xmlns="SYNCML:SYNCML1.1">')


def test_embedded_tnds_is_canonical_xml() -> None:
    message = decode_xml((CORPUS / "pkg3_client.xml").read_bytes())
    data = message.body.commands[3].items[0].data
    assert isinstance(data, EmbeddedXml)
    assert data.xml.startswith('<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Man>DMLab</Man>')
    assert "<Value>Lab DM server one &amp; co</Value>" in data.xml
    assert embed_xml("<MgmtTree xmlns='syncml:dmddf1.2'>\n  <VerDTD>1.2</VerDTD>\n</MgmtTree>") == EmbeddedXml(
        '<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD></MgmtTree>'
    )


def test_metinf_wrapper_and_whitespace_are_tolerated() -> None:
    header = '<Meta>\n  <MetInf xmlns="syncml:metinf"><MaxMsgSize> 8192 </MaxMsgSize></MetInf>\n</Meta>'
    message = decode_xml(wrap("\n  <Final>\n  </Final>\n", header))
    assert message.header.meta == Meta(max_msg_size=8192) and message.body.final


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><SyncML>&lol3;</SyncML>',
            id="small-entity-bomb",
        ),
        pytest.param(
            b'<!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
            + b"".join(b'<!ENTITY %s "%s">' % (b"a%d" % n, (b"&a%d;" % (n - 1) if n > 1 else b"&a;") * 10) for n in range(1, 10))
            + b"]><SyncML>&a9;</SyncML>",
            id="billion-laughs",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE SyncML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b"<SyncML><SyncHdr><VerDTD>&xxe;</VerDTD></SyncHdr></SyncML>",
            id="external-entity",
        ),
        pytest.param(
            b'<!DOCTYPE SyncML [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><SyncML/>',
            id="parameter-entity",
        ),
        pytest.param(b'<!DOCTYPE SyncML [<!ELEMENT SyncML ANY>]><SyncML/>', id="element-declaration"),
        pytest.param(b"<SyncML>&undeclared;</SyncML>", id="undeclared-entity"),
    ],
)
def test_entities_and_internal_dtds_are_refused(document: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_xml(document)


def test_external_dtd_is_neither_loaded_nor_fetched() -> None:
    document = (CORPUS / "pkg2_server.xml").read_bytes().replace(
        b"http://www.openmobilealliance.org/tech/DTD/OMA-TS-SyncML_RepPro_DTD-V1_2.dtd", b"file:///etc/passwd"
    )
    assert decode_xml(document) == decode_xml((CORPUS / "pkg2_server.xml").read_bytes())


def test_size_limit() -> None:
    document = (CORPUS / "pkg2_server.xml").read_bytes()
    with pytest.raises(DecodeError) as error:
        decode_xml(document, max_size=1000)
    assert error.value.offset == 1000
    assert decode_xml(document, max_size=len(document))


def test_nesting_is_bounded() -> None:
    deep = b"<SyncML>" + b"<Atomic>" * 150 + b"</Atomic>" * 150 + b"</SyncML>"
    with pytest.raises(DecodeError, match="deeper"):
        decode_xml(deep)
    with pytest.raises(DecodeError):
        decode_xml(b"<a>" * 5000 + b"</a>" * 5000)


def test_syntax_errors_carry_the_byte_offset() -> None:
    document = b'<SyncML xmlns="SYNCML:SYNCML1.2">\n<SyncHdr>\n<VerDTD>1.2</VerDtd>'
    with pytest.raises(DecodeError) as error:
        decode_xml(document)
    assert document.index(b"<VerDTD>") <= error.value.offset <= len(document)
    assert "at byte" in str(error.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<Put><CmdID>1</CmdID></Put>", "<Put> is not allowed in <SyncBody>"),
        ("<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Data>200</Data></Status>", "lacks <Cmd>"),
        ("<Alert><CmdID>1</CmdID><Data>twelve</Data></Alert>", "must be a non-negative integer"),
        ("<Alert><CmdID>1</CmdID><CmdID>2</CmdID><Data>1100</Data></Alert>", "appears twice"),
        ("<Atomic><CmdID>1</CmdID><Results><CmdID>2</CmdID><CmdRef>1</CmdRef></Results></Atomic>", "not allowed in <Atomic>"),
        ("<Final>now</Final>", "must be empty"),
        ("<Get><CmdID>1</CmdID><Item><Target><LocURI><x/></LocURI></Target></Item></Get>", "holds elements"),
        ("<Add><CmdID>1</CmdID><Item><Data>text<x/></Data></Item></Add>", "mixes text and elements"),
    ],
)
def test_structure_errors_name_the_element_and_the_offset(body: str, message: str) -> None:
    document = wrap("\n" + body)
    with pytest.raises(DecodeError, match=message) as error:
        decode_xml(document)
    assert error.value.offset == document.index(b"\n") + 1  # the start of its line


def test_wrong_root_is_refused() -> None:
    with pytest.raises(DecodeError, match="not <SyncML>"):
        decode_xml(b"<MgmtTree/>")


def test_what_xml_cannot_carry_is_an_encode_error() -> None:
    message = small_message()
    message.body.commands[1].items[0].data = "nul\x00"
    with pytest.raises(EncodeError):
        encode_xml(message)
    message.body.commands[1].items[0].data = b"\xff\xfe"
    with pytest.raises(EncodeError, match="binary"):
        encode_xml(message)
    message.body.commands[1].items[0].data = EmbeddedXml("<unclosed>")
    with pytest.raises(EncodeError, match="well-formed"):
        encode_xml(message)
