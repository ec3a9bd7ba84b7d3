"""Job files: every command, the spec's shape rules, and clear errors."""

from __future__ import annotations

import json

import pytest

from servers.dm import (Add, Alert, Atomic, Copy, Delete, Exec, Get, Job, JobError, Replace,
                        Sequence, dump_job, parse_job)

EVERY_COMMAND = {"commands": [
    {"cmd": "Get", "uri": "./DevInfo/Mod"},
    {"cmd": "Replace", "uri": "./A", "data": "hi", "format": "chr", "type": "text/plain"},
    {"cmd": "Replace", "uri": "./Bin", "data_b64": "AAH/"},
    {"cmd": "Add", "uri": "./Dir", "format": "node"},
    {"cmd": "Delete", "uri": "./Old"},
    {"cmd": "Copy", "source": "./S", "target": "./T"},
    {"cmd": "Exec", "uri": "./Run", "data": "now", "correlator": "c-1"},
    {"cmd": "Alert", "code": 1104, "text": "Pick", "options": "DR=1-2", "choices": ["a", "b"]},
    {"cmd": "Atomic", "commands": [{"cmd": "Replace", "uri": "./A", "data": "1"}]},
    {"cmd": "Sequence", "commands": [{"cmd": "Alert", "code": 1101, "text": "Go?"},
                                     {"cmd": "Get", "uri": "./A"}]},
]}


def test_every_command_parses_and_round_trips() -> None:
    job = parse_job(json.dumps(EVERY_COMMAND))
    assert job == Job([
        Get("./DevInfo/Mod"),
        Replace("./A", "hi", format="chr", type="text/plain"),
        Replace("./Bin", b"\x00\x01\xff", format="bin"),
        Add("./Dir", format="node"),
        Delete("./Old"),
        Copy("./S", "./T"),
        Exec("./Run", data="now", correlator="c-1"),
        Alert(1104, "Pick", options="DR=1-2", choices=["a", "b"]),
        Atomic([Replace("./A", "1")]),
        Sequence([Alert(1101, "Go?"), Get("./A")]),
    ])
    assert parse_job(dump_job(job)) == job


@pytest.mark.parametrize("document, message", [
    ("not json", "not JSON"),
    ({"commands": []}, "at least one command"),
    ({"jobs": []}, 'one key, "commands"'),
    ({"commands": [{"cmd": "Launch", "uri": "./A"}]}, "commands[0]: unknown cmd 'Launch'"),
    ({"commands": [{"cmd": "Get"}]}, "commands[0]: Get needs 'uri'"),
    ({"commands": [{"cmd": "Get", "uri": "./A", "data": "x"}]}, "Get takes no 'data'"),
    ({"commands": [{"cmd": "Replace", "uri": "./A"}]}, "Replace needs data or data_b64"),
    ({"commands": [{"cmd": "Replace", "uri": "./A", "data_b64": "@@"}]}, "data_b64 is not base64"),
    ({"commands": [{"cmd": "Replace", "uri": 7, "data": "x"}]}, "Replace uri has the wrong type"),
    ({"commands": [{"cmd": "Get", "uri": "./A"}, {"cmd": "Atomic", "commands": [
        {"cmd": "Delete", "uri": "./A"}, {"cmd": "Get", "uri": "./A"}]}]},
     "commands[1].commands[1]: Get is not allowed inside Atomic"),
    ({"commands": [{"cmd": "Atomic", "commands": [{"cmd": "Atomic", "commands": []}]}]},
     "commands[0].commands[0]: Atomic is not allowed inside Atomic"),
    ({"commands": [{"cmd": "Sequence", "commands": [{"cmd": "Nope"}]}]},
     "commands[0].commands[0]: unknown cmd 'Nope'"),
    ({"commands": [{"cmd": "Alert", "code": 1226, "text": "x"}]}, "not a UI alert"),
    ({"commands": [{"cmd": "Alert", "code": 1103, "text": "x"}]}, "Alert 1103 needs choices"),
    ({"commands": [{"cmd": "Alert", "code": 1101, "text": "x", "choices": ["a"]}]},
     "takes no choices"),
])
def test_bad_job_files(document: object, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(JobError) as raised:
        parse_job(text)
    assert message in str(raised.value)


def test_jobs_built_in_python_follow_the_same_rules() -> None:
    with pytest.raises(JobError, match="Get is not allowed inside Atomic"):
        Atomic([Get("./A")])
