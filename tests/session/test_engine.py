"""The client engine's rules, one scripted server message at a time."""

from __future__ import annotations

import pytest

from dmclient import wire
from dmclient.session import (ClientSession, Ended, ExecRequest, ExecResult, GenericReport,
                              Outcome, Send, UiMode, UiPolicy)
from dmclient.tree import Tree, load_profile
from dmclient.wire import (Add, Alert, AlertCode, Atomic, Copy, Delete, Exec, Get, Item,
                           Location, Meta, Replace, Results, Sequence, Status, StatusCode as S)

from .scripted import Script, hmac_header, item, statuses

GREETING = "./Vendor/DMLab/Settings/Greeting"


def results(message: wire.Message) -> dict[str, object]:
    return {i.source.loc_uri: i.data for c in message.body.commands if isinstance(c, Results)
            for i in c.items}


# ---------------------------------------------------------------- package 1

def test_package1() -> None:
    script = Script.start()
    pkg1 = script.last
    assert pkg1.header.msg_id == "1" and pkg1.body.final
    assert pkg1.header.cred.meta.type == "syncml:auth-md5"
    assert pkg1.header.meta.max_msg_size == 16384
    alert, replace = pkg1.body.commands
    assert isinstance(alert, Alert) and alert.code == AlertCode.CLIENT_INITIATED_MGMT
    assert [i.source.loc_uri for i in replace.items] == [
        "./DevInfo/DevId", "./DevInfo/Man", "./DevInfo/Mod", "./DevInfo/DmV", "./DevInfo/Lang"]


def test_server_initiated_package1_uses_the_notification_session_id() -> None:
    session = ClientSession(Tree(load_profile("default")), "dms1", session_id="BEEF")
    pkg1 = wire.decode(session.start().body)
    assert pkg1.header.session_id == "BEEF"
    assert pkg1.body.commands[0].code == AlertCode.SERVER_INITIATED_MGMT


def test_unknown_account_is_refused_before_anything_is_sent() -> None:
    from dmclient.session import SessionError

    with pytest.raises(SessionError, match="no DM account for ServerID 'dms9'"):
        ClientSession(Tree(load_profile("default")), "dms9")


# ---------------------------------------------------------------- commands and statuses

def test_commands_statuses_and_results() -> None:
    script = Script.start()
    answer = script.answer([
        Get(cmd_id="", items=[item("./DevInfo/Mod")]),
        Replace(cmd_id="", items=[item(GREETING, "hi")]),
        Add(cmd_id="", items=[item("./Vendor/DMLab/Apps/game", format="node")]),
        Add(cmd_id="", items=[item("./Vendor/DMLab/Apps/game/Version", "2", format="int")]),
        Copy(cmd_id="", items=[Item(target=Location(loc_uri="./Vendor/DMLab/Apps/game/Copy"),
                                    source=Location(loc_uri=GREETING))]),
        Delete(cmd_id="", items=[item("./Vendor/DMLab/Settings/Telemetry")]),
        Get(cmd_id="", items=[item("./Vendor/DMLab/Apps/game?prop=Format")]),
    ])
    assert statuses(answer) == {"2": 200, "3": 200, "4": 200, "5": 200, "6": 200, "7": 200,
                                "8": 200}
    assert results(answer) == {"./DevInfo/Mod": "Virtual Handset 1",
                               "./Vendor/DMLab/Apps/game?prop=Format": "node"}
    # Results follow their Status, and the header Status comes first.
    kinds = [type(c).__name__ for c in answer.body.commands]
    assert kinds[0] == "Status" and kinds[1:3] == ["Status", "Results"]
    assert answer.body.commands[0].code == S.AUTHENTICATED
    assert script.session.tree.get("./Vendor/DMLab/Apps/game/Copy").value == "hi"
    records = {(r.cmd, r.status) for r in script.session.records}
    assert ("Replace", 200) in records and ("Get", 200) in records


def test_acl_denial_is_425_and_permanent_delete_405() -> None:
    script = Script.start()
    answer = script.answer([
        Replace(cmd_id="", items=[item("./DevInfo/DevId", "x")]),   # Get=* only
        Delete(cmd_id="", items=[item("./DevDetail/URI")]),         # Get=* only
    ])
    assert statuses(answer) == {"2": 425, "3": 425}
    tree = Tree(load_profile("default"))
    assert tree.replace("./DevInfo?prop=ACL", None, value="Get=*&Delete=dms1").ok
    script = Script.start(tree)
    answer = script.answer([Delete(cmd_id="", items=[item("./DevInfo/Lang")])])
    assert statuses(answer) == {"2": 405}


def test_binary_results_go_as_b64() -> None:
    tree = Tree(load_profile("default"))
    assert tree.add("./Vendor/DMLab/Apps/blob", None, value=b"\x00\xff", format="bin").ok
    answer = Script.start(tree).answer([Get(cmd_id="", items=[item("./Vendor/DMLab/Apps/blob")])])
    result = next(c for c in answer.body.commands if isinstance(c, Results)).items[0]
    assert result.data == "AP8=" and result.meta.format == "b64"


def test_add_with_a_tnds_payload() -> None:
    tnds = ("<MgmtTree><VerDTD>1.2</VerDTD><Node><NodeName>game</NodeName>"
            "<Node><NodeName>Version</NodeName><Value>3</Value></Node></Node></MgmtTree>")
    script = Script.start()
    answer = script.answer([Add(cmd_id="", items=[item(
        "./Vendor/DMLab/Apps", wire.embed_xml(tnds), format="xml",
        type="application/vnd.syncml.dmtnds+xml")])])
    assert statuses(answer) == {"2": 200}
    assert script.session.tree.get("./Vendor/DMLab/Apps/game/Version").value == "3"


# ---------------------------------------------------------------- Atomic and Sequence

def test_atomic_rollback_leaves_the_tree_unchanged() -> None:
    script = Script.start()
    before = script.session.tree.export("./Vendor")  # (the server's nonce moves on, by design)
    answer = script.answer([Atomic(cmd_id="", commands=[
        Replace(cmd_id="", items=[item(GREETING, "changed")]),
        Add(cmd_id="", items=[item("./Vendor/DMLab/Apps/x", "1")]),
        Delete(cmd_id="", items=[item("./DevInfo")]),
        Replace(cmd_id="", items=[item("./Vendor/DMLab/Settings/Telemetry", "true")]),
    ])])
    assert statuses(answer) == {"2": 507, "3": 216, "4": 216, "5": 425, "6": 215}
    assert script.session.tree.export("./Vendor") == before


def test_atomic_success_and_forbidden_contents() -> None:
    script = Script.start()
    answer = script.answer([
        Atomic(cmd_id="", commands=[Replace(cmd_id="", items=[item(GREETING, "a")]),
                                    Replace(cmd_id="", items=[item(GREETING, "b")])]),
        Atomic(cmd_id="", commands=[Get(cmd_id="", items=[item(GREETING)])]),
    ])
    codes = statuses(answer)
    assert (codes["2"], codes["3"], codes["4"]) == (200, 200, 200)
    assert (codes["5"], codes["6"]) == (500, 215)
    assert script.session.tree.get(GREETING).value == "b"


def test_sequence_stops_after_the_user_says_no() -> None:
    script = Script.start(ui=UiPolicy(UiMode.DENY))
    answer = script.answer([Sequence(cmd_id="", commands=[
        Replace(cmd_id="", items=[item(GREETING, "before")]),
        Alert(cmd_id="", code=AlertCode.CONFIRM_OR_REJECT,
              items=[Item(data="MINDT=10"), Item(data="Install the update?")]),
        Replace(cmd_id="", items=[item(GREETING, "after")]),
    ])])
    assert statuses(answer) == {"2": 200, "3": 200, "4": 304, "5": 215}
    assert script.session.tree.get(GREETING).value == "before"


# ---------------------------------------------------------------- UI alerts

@pytest.mark.parametrize("policy, code, expected, data", [
    (UiPolicy(), AlertCode.DISPLAY, 200, []),
    (UiPolicy(), AlertCode.CONFIRM_OR_REJECT, 200, []),
    (UiPolicy(UiMode.DENY), AlertCode.CONFIRM_OR_REJECT, 304, []),
    (UiPolicy(UiMode.TIMEOUT), AlertCode.CONFIRM_OR_REJECT, 408, []),
    (UiPolicy(UiMode.SCRIPTED, ["hello world"]), AlertCode.TEXT_INPUT, 200, ["hello"]),
    (UiPolicy(UiMode.DENY), AlertCode.TEXT_INPUT, 214, []),
    (UiPolicy(), AlertCode.SINGLE_CHOICE, 200, ["2"]),
    (UiPolicy(UiMode.SCRIPTED, ["1-3"]), AlertCode.MULTIPLE_CHOICE, 200, ["1", "3"]),
])
def test_ui_alerts(policy: UiPolicy, code: int, expected: int, data: list[str]) -> None:
    script = Script.start(ui=policy)
    answer = script.answer([Alert(cmd_id="", code=code, items=[
        Item(data="MAXLEN=5&DR=2"), Item(data="Question?"), Item(data="red"),
        Item(data="green"), Item(data="blue")])])
    status = next(c for c in answer.body.commands if isinstance(c, Status) and c.cmd_ref == "2")
    assert status.code == expected
    assert [i.data for i in status.items] == data
    assert policy.shown == ["Question?"]


# ---------------------------------------------------------------- Exec

def test_exec_checks_the_acl_and_reports_async_results_later() -> None:
    calls: list[ExecRequest] = []

    def handler(request: ExecRequest) -> ExecResult:
        calls.append(request)
        return ExecResult(S.ACCEPTED, GenericReport(request.uri, request.correlator, "200"))

    tree = Tree(load_profile("default"))
    script = Script.start(tree, exec_handler=handler)
    answer = script.answer([
        Exec(cmd_id="", item=item("./Vendor/DMLab/Settings", "go"), correlator="job-7"),
        Exec(cmd_id="", item=item("./DevInfo/Man")),
    ])
    assert statuses(answer) == {"2": 202, "3": 425}
    assert [(c.uri, c.data, c.correlator) for c in calls] == [
        ("./Vendor/DMLab/Settings", "go", "job-7")]
    reports = script.session.pending_reports
    # The next session opens with a Generic Alert that echoes the Correlator.
    follow_up = ClientSession(tree, "dms1", reports=tuple(reports))
    pkg1 = wire.decode(follow_up.start().body)
    generic = [c for c in pkg1.body.commands if isinstance(c, Alert) and c.code == 1226]
    assert generic[0].correlator == "job-7"
    assert generic[0].items[0].source.loc_uri == "./Vendor/DMLab/Settings"
    assert generic[0].items[0].meta.format == "int"


# ---------------------------------------------------------------- session shape

def test_a_status_only_final_message_ends_the_session() -> None:
    script = Script.start()
    script.answer([Get(cmd_id="", items=[item("./DevInfo/Man")])])
    ended = script.send(script.message([], code=S.OK))
    assert isinstance(ended, Ended) and ended.outcome is Outcome.COMPLETED
    assert ended.farewell is None


def test_a_server_package_without_final_is_answered_with_1222() -> None:
    script = Script.start()
    answer = script.answer([Get(cmd_id="", items=[item("./DevInfo/Man")])], final=False)
    assert not answer.body.final
    assert any(isinstance(c, Alert) and c.code == AlertCode.NEXT_MESSAGE
               for c in answer.body.commands)
    last = script.answer([Get(cmd_id="", items=[item("./DevInfo/Mod")])], code=S.OK)
    assert last.body.final and results(last) == {"./DevInfo/Mod": "Virtual Handset 1"}


def test_abort_ends_at_once_and_sends_nothing() -> None:
    script = Script.start()
    ended = script.send(script.message([Alert(cmd_id="", code=AlertCode.SESSION_ABORT)]))
    assert isinstance(ended, Ended) and ended.outcome is Outcome.ABORTED
    assert ended.farewell is None


def test_resp_uri_is_followed() -> None:
    script = Script.start()
    body = script.message([Get(cmd_id="", items=[item("./DevInfo/Man")])])
    message = wire.decode(body)
    message.header.resp_uri = "https://127.0.0.1:8443/dm?s=42"
    step = script.send(wire.encode_xml(message))
    assert isinstance(step, Send) and step.url == "https://127.0.0.1:8443/dm?s=42"


# ---------------------------------------------------------------- large objects

def test_a_large_result_is_chunked_under_the_servers_max_msg_size() -> None:
    tree = Tree(load_profile("default"))
    big = "".join(chr(0x41 + n % 26) for n in range(100_000))
    assert tree.add("./Vendor/DMLab/Apps/big", None, value=big).ok
    script = Script.start(tree)
    first = script.answer([Get(cmd_id="", items=[item("./Vendor/DMLab/Apps/big")])],
                          meta=Meta(max_msg_size=8000))
    chunks = [first]
    while not chunks[-1].body.final:
        assert len(script.sent[-1].body) <= 8000
        # The server takes each chunk with 213 and asks for the next message.
        last_results = next(c for c in chunks[-1].body.commands if isinstance(c, Results))
        chunks.append(script.answer([
            Status(cmd_id="", msg_ref=chunks[-1].header.msg_id, cmd_ref=last_results.cmd_id,
                   cmd="Results", code=S.CHUNK_ACCEPTED),
            Alert(cmd_id="", code=AlertCode.NEXT_MESSAGE)], code=S.OK, final=False))
    pieces = [i for m in chunks for c in m.body.commands if isinstance(c, Results)
              for i in c.items]
    assert len(pieces) > 10
    assert all(p.more_data for p in pieces[:-1]) and not pieces[-1].more_data
    assert pieces[0].meta.size == 100_000
    assert "".join(p.data for p in pieces) == big


def _chunked_replace(script: Script, data: str, declared: int, step: int = 30_000) -> list:
    answers = []
    for start in range(0, len(data), step):
        last = start + step >= len(data)
        chunk = Item(target=Location(loc_uri=GREETING), data=data[start:start + step],
                     more_data=not last, meta=Meta(size=declared) if start == 0 else None)
        answers.append(script.answer([Replace(cmd_id="", items=[chunk])],
                                     final=last, code=S.AUTHENTICATED if start == 0 else S.OK))
    return answers


def test_a_large_object_arrives_in_chunks() -> None:
    script = Script.start()
    data = "x" * 100_000
    answers = _chunked_replace(script, data, 100_000)
    assert [list(statuses(a).values()) for a in answers] == [[213], [213], [213], [200]]
    assert script.session.tree.get(GREETING).value == data


def test_a_size_mismatch_is_424_and_nothing_changes() -> None:
    script = Script.start()
    answers = _chunked_replace(script, "y" * 70_000, 100_000)
    assert list(statuses(answers[-1]).values()) == [424]
    assert script.session.tree.get(GREETING).value == "Hello from dmlab"


def test_an_object_over_max_obj_size_is_refused() -> None:
    script = Script.start(max_obj_size=50_000)
    answer = script.answer([Replace(cmd_id="", items=[Item(
        target=Location(loc_uri=GREETING), data="z" * 1000, more_data=True,
        meta=Meta(size=80_000))])], final=False)
    assert 413 in statuses(answer).values()


# ---------------------------------------------------------------- authentication

def test_hmac_both_ways() -> None:
    tree = Tree(load_profile("default"))
    for side in ("ClientSide", "ServerSide"):
        assert tree.replace(f"./DMAcc/dms1/AppAuth/{side}/AAuthType", None, value="HMAC").ok
    script = Script.start(tree)
    pkg1 = script.sent[-1]
    assert pkg1.headers[wire.HMAC_HEADER_NAME].startswith("algorithm=MD5, username=")
    assert script.last.header.cred is None
    body = script.message([Get(cmd_id="", items=[item("./DevInfo/Man")])], cred=False,
                          code=S.OK)
    step = script.send(body, hmac_header(body, b"server-nonce-1"))
    assert isinstance(step, Send)
    answer = wire.decode(step.body)
    assert answer.body.commands[0].code == S.OK  # HMAC: 200 and a new nonce every time
    assert answer.body.commands[0].chal.next_nonce
    assert results(answer) == {"./DevInfo/Man": "dmlab"}
    # A message whose MAC does not match the body is not trusted: nothing runs.
    forged = script.message([Replace(cmd_id="", items=[item(GREETING, "forged")])],
                            cred=False, code=S.OK)
    step = script.send(forged, hmac_header(forged + b" ", b"server-nonce-1"))
    assert isinstance(step, Send)
    assert list(statuses(wire.decode(step.body)).values()) == [215]
    assert tree.get(GREETING).value == "Hello from dmlab"


def test_basic_auth() -> None:
    tree = Tree(load_profile("default"))
    assert tree.replace("./DMAcc/dms1/AppAuth/ClientSide/AAuthType", None, value="BASIC").ok
    script = Script.start(tree)
    assert script.last.header.cred.meta.type == "syncml:auth-basic"
    assert script.last.header.cred.data == "SU1FSTozNTgyNDAwNTExMTExMTA6aGFuZHNldC1zZWNyZXQ="


def test_a_missing_server_credential_is_challenged() -> None:
    script = Script.start()
    answer = script.answer([Replace(cmd_id="", items=[item(GREETING, "x")])], cred=False)
    assert answer.body.commands[0].code == S.MISSING_CREDENTIALS
    assert answer.body.commands[0].chal.type == "syncml:auth-md5"
    assert statuses(answer) == {"2": 215}


def test_client_gives_up_after_two_refusals() -> None:
    script = Script.start()
    again = script.answer([], code=S.INVALID_CREDENTIALS)
    assert again.body.commands[1].code == AlertCode.CLIENT_INITIATED_MGMT  # package 1 again
    assert again.header.msg_id == "2" and again.header.cred is not None
    ended = script.send(script.message([], code=S.INVALID_CREDENTIALS))
    assert isinstance(ended, Ended) and ended.outcome is Outcome.AUTH_FAILED


# ---------------------------------------------------------------- hostile servers

def _hostile(script: Script, body: bytes) -> Ended:
    before = script.session.tree.export()
    ended = script.send(body)
    assert isinstance(ended, Ended) and ended.outcome is Outcome.PROTOCOL_ERROR
    assert ended.farewell is not None
    farewell = wire.decode(ended.farewell.body)
    assert [c.code for c in farewell.body.commands] == [AlertCode.SESSION_ABORT]
    assert script.session.tree.export() == before
    return ended


def test_bad_xml_is_an_abort() -> None:
    script = Script.start()
    assert "unreadable" in _hostile(script, b"<SyncML><SyncHdr>").reason


def test_an_unknown_command_is_an_abort() -> None:
    script = Script.start()
    body = script.message([Replace(cmd_id="", items=[item(GREETING, "x")])])
    body = body.replace(b"<Replace>", b"<Sync>").replace(b"</Replace>", b"</Sync>")
    _hostile(script, body)


def test_a_missing_cmdid_is_an_abort() -> None:
    script = Script.start()
    body = script.message([Replace(cmd_id="", items=[item(GREETING, "x")])])
    _hostile(script, body.replace(b"<CmdID>2</CmdID>", b""))


def test_a_wrong_msgref_is_an_abort() -> None:
    script = Script.start()
    message = wire.decode(script.message([Replace(cmd_id="", items=[item(GREETING, "x")])]))
    message.body.commands[0].msg_ref = "9"
    assert "never sent" in _hostile(script, wire.encode_xml(message)).reason


def test_a_wrong_session_id_is_an_abort() -> None:
    script = Script.start()
    _hostile(script, script.message([], session_id="FFFF"))


def test_a_50_mb_body_is_refused_unread() -> None:
    script = Script.start()
    body = b"<SyncML>" + b" " * (50 * 1024 * 1024) + b"</SyncML>"
    assert "over the" in _hostile(script, body).reason


def test_wrong_content_type_is_an_abort() -> None:
    script = Script.start()
    before = script.session.tree.export()
    ended = script.session.receive(script.message([]), "text/html")
    assert isinstance(ended, Ended) and ended.outcome is Outcome.PROTOCOL_ERROR
    assert script.session.tree.export() == before


def test_wbxml_sessions() -> None:
    script = Script.start(encoding=wire.Encoding.WBXML)
    script.encoding = wire.Encoding.WBXML
    assert script.sent[-1].body[:1] == b"\x02"
    assert script.sent[-1].content_type == "application/vnd.syncml.dm+wbxml"
    answer = script.answer([Get(cmd_id="", items=[item("./DevInfo/Man")])])
    assert results(answer) == {"./DevInfo/Man": "dmlab"}
