"""The corpus: every command and Meta field, through both codecs and through libwbxml."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmclient.wire import (
    Alert,
    Atomic,
    EmbeddedXml,
    Exec,
    Message,
    Results,
    Sequence,
    Status,
    decode,
    decode_wbxml,
    decode_xml,
    encode_wbxml,
    encode_xml,
    iter_items,
)

from wire_support import CORPUS, CORPUS_XML, TOLERANT_XML, Libwbxml

ids = [path.stem for path in CORPUS_XML]


def _model(path: Path) -> Message:
    return decode_xml(path.read_bytes())


def _all_commands(commands: list) -> list:
    found = []
    for command in commands:
        found.append(command)
        if isinstance(command, (Atomic, Sequence)):
            found.extend(_all_commands(command.commands))
    return found


def test_corpus_covers_every_command_and_meta_field() -> None:
    commands, metas, items, headers = [], [], [], []
    for path in CORPUS_XML:
        message = _model(path)
        headers.append(message.header)
        commands.extend(_all_commands(message.body.commands))
        items.extend(item for _, item in iter_items(message.body.commands))
    metas = [item.meta for item in items if item.meta]
    metas += [command.meta for command in commands if getattr(command, "meta", None)]
    metas += [command.chal for command in commands if isinstance(command, Status) and command.chal]
    metas += [header.meta for header in headers if header.meta] + [header.cred.meta for header in headers if header.cred]

    kinds = {type(command).__name__ for command in commands}
    assert kinds == {"Add", "Alert", "Atomic", "Copy", "Delete", "Exec", "Get", "Replace", "Results", "Sequence", "Status"}
    alert_codes = {command.code for command in commands if isinstance(command, Alert)}
    assert {1100, 1101, 1102, 1103, 1104, 1200, 1201, 1222, 1223, 1224, 1226} <= alert_codes
    assert any(isinstance(c, Alert) and c.code == 1226 and c.correlator for c in commands)
    assert any(isinstance(c, Exec) and c.correlator for c in commands)
    assert any(isinstance(c, Status) and c.chal and c.target_refs and c.source_refs for c in commands)
    assert any(isinstance(c, Status) and c.items for c in commands)
    assert any(isinstance(c, Results) and c.msg_ref and c.meta and c.target_refs for c in commands)
    for field in ("format", "type", "mark", "size", "anchor", "version", "next_nonce", "max_msg_size", "max_obj_size", "emi", "mem", "field_level"):
        assert any(getattr(meta, field) for meta in metas), field
    assert any(meta.mem and meta.mem.shared_mem and meta.mem.free_mem and meta.mem.free_id for meta in metas)
    assert any(meta.anchor and meta.anchor.last and meta.anchor.next for meta in metas)
    assert any(item.more_data for item in items) and any(isinstance(item.data, EmbeddedXml) for item in items)
    assert any(item.source_parent and item.target_parent for item in items)
    assert any(h.resp_uri for h in headers) and any(h.no_resp for h in headers) and any(h.source.loc_name for h in headers)
    assert {h.ver_dtd for h in headers} == {"1.1", "1.2"}
    assert any(not _model(path).body.final for path in CORPUS_XML)


@pytest.mark.parametrize("path", CORPUS_XML, ids=ids)
def test_xml_wbxml_xml_is_the_identity(path: Path) -> None:
    model = _model(path)
    canonical = encode_xml(model)
    via_wbxml = decode_wbxml(encode_wbxml(model))
    assert via_wbxml == model
    assert encode_xml(via_wbxml) == canonical
    assert decode_xml(canonical) == model
    assert decode(encode_wbxml(decode(canonical))) == model


@pytest.mark.parametrize("variant", ["libwbxml", "libwbxml-nostrtbl"])
@pytest.mark.parametrize("path", CORPUS_XML, ids=ids)
def test_stored_libwbxml_encodings_decode_to_the_source_message(path: Path, variant: str) -> None:
    wbxml = (CORPUS / f"{path.stem}.{variant}.wbxml").read_bytes()
    assert decode_wbxml(wbxml) == _model(path)


def test_stored_libwbxml_encodings_use_a_string_table() -> None:
    def table_length(variant: str, path: Path) -> int:
        return (CORPUS / f"{path.stem}.{variant}.wbxml").read_bytes()[4]  # after 03 A4 01 6A

    assert any(table_length("libwbxml", path) for path in CORPUS_XML)
    assert not any(table_length("libwbxml-nostrtbl", path) for path in CORPUS_XML)


@pytest.mark.parametrize("path", TOLERANT_XML, ids=[path.stem for path in TOLERANT_XML])
def test_tolerant_spellings_decode_to_the_same_message(path: Path) -> None:
    assert decode_xml(path.read_bytes()) == _model(CORPUS / "pkg2_server.xml")


@pytest.mark.parametrize("string_table", [True, False], ids=["strtbl", "nostrtbl"])
@pytest.mark.parametrize("path", CORPUS_XML, ids=ids)
def test_what_libwbxml_encodes_we_decode(path: Path, string_table: bool, libwbxml: Libwbxml) -> None:
    model = _model(path)
    assert decode_wbxml(libwbxml.xml2wbxml(path.read_bytes(), string_table)) == model
    assert decode_wbxml(libwbxml.xml2wbxml(encode_xml(model), string_table)) == model


@pytest.mark.parametrize("path", CORPUS_XML, ids=ids)
def test_what_we_encode_libwbxml_decodes(path: Path, libwbxml: Libwbxml) -> None:
    model = _model(path)
    assert decode_xml(libwbxml.wbxml2xml(encode_wbxml(model))) == model
