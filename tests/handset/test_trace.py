"""Traces: WBXML is kept as XML, the index says what came how, the transcript reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmclient.trace import SessionTrace, TraceError, describe, transcripts
from dmclient.wire import (Alert, Atomic, Body, Header, Item, Location, Message, Replace,
                           Status, decode, encode_wbxml)


def message() -> Message:
    items = [Item(target=Location(loc_uri=f"./Vendor/DMLab/Settings/{n}"), data="x")
             for n in ("Greeting", "Telemetry")]
    return Message(
        header=Header(session_id="7", msg_id="3", target=Location(loc_uri="IMEI:1"),
                      source=Location(loc_uri="https://dm.example/dm")),
        body=Body(final=True, commands=[
            Status(cmd_id="1", msg_ref="2", cmd_ref="0", cmd="SyncHdr", code=200),
            Atomic(cmd_id="2", commands=[Replace(cmd_id="3", items=items)]),
            Alert(cmd_id="4", code=1101)]))


def test_wbxml_is_written_as_xml_and_indexed(tmp_path: Path) -> None:
    body = encode_wbxml(message())
    trace = SessionTrace.create(tmp_path, server_id="dm/s 1", session_id="7",
                                initiator="server", at=0.0)
    trace.record("in", body, url="https://dm.example/dm",
                 content_type="application/vnd.syncml.dm+wbxml", at=1.5)
    trace.record("in", b"\x02\x00garbage", url="u", content_type="", at=2.0)
    trace.close("protocol_error", "unreadable", at=3.0)
    assert trace.path.name == "19700101T000000.000000Z-dm_s_1-7"
    index = json.loads((trace.path / "index.json").read_text())
    assert index["outcome"] == "protocol_error" and index["ended"] == "1970-01-01T00:00:03.000+00:00"
    first, second = index["messages"]
    assert first == {"file": "001-in.xml", "direction": "in",
                     "time": "1970-01-01T00:00:01.500+00:00", "url": "https://dm.example/dm",
                     "content_type": "application/vnd.syncml.dm+wbxml", "bytes": len(body),
                     "encoding": "wbxml"}
    xml = (trace.path / "001-in.xml").read_bytes()
    assert xml.startswith(b"<") and decode(xml) == message()
    assert second["file"] == "002-in.bin"  # undecodable bytes are kept as they came
    [transcript] = transcripts(tmp_path)
    assert transcript.title.endswith("server-initiated, 1970-01-01T00:00:00.000+00:00: "
                                     "protocol_error (unreadable)")
    assert [(line.sender, line.receiver) for line in transcript.lines] == [
        ("dm/s 1", "handset"), ("dm/s 1", "handset")]
    assert transcript.lines[1].text.startswith("unreadable 9-byte message")


def test_describe() -> None:
    assert describe(message()) == (
        "MsgID 3: Status SyncHdr 200, Atomic [Replace ./Vendor/DMLab/Settings (2 items)], "
        "Alert 1101, Final")


def test_not_a_trace(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no session traces"):
        transcripts(tmp_path)
    (tmp_path / "index.json").write_text("{}")
    with pytest.raises(TraceError, match="not a trace index"):
        transcripts(tmp_path)
