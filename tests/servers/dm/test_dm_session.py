"""The server's side of a session: package 2 for package 1, jobs out, statuses and
results in, and the end of the session; in both encodings."""

from __future__ import annotations

from dm_support import (DEVID, DEVINFO, SERVER_NONCE, URL, Handset, answer, commands_of,
                        header_status, reply_status, server_cred_ok)

from dmclient.wire import (Alert, AlertCode, Atomic, Copy, Encoding, Exec, Get, Item, Location,
                           Meta, Replace, Results, Sequence, Status)
from servers import dm
from servers.dm import DMServer, Job, JobState, Outcome


def test_package_2_answers_package_1_and_carries_the_job(server: DMServer,
                                                         handset: Handset) -> None:
    server.queue_job(DEVID, Job([dm.Get("./DevInfo/Mod"),
                                 dm.Replace("./Vendor/DMLab/Settings/Greeting", "hi")]))
    reply = handset.start()

    header = reply.header
    assert (header.session_id, header.msg_id, header.target.loc_uri) == ("5E", "1", DEVID)
    assert header.resp_uri == URL + "?s=1"
    assert header.meta is not None and header.meta.max_msg_size == 16384
    assert server_cred_ok(reply, SERVER_NONCE)
    statuses = [c for c in reply.body.commands if isinstance(c, Status)]
    assert [(s.cmd_ref, s.cmd, s.code) for s in statuses] == [
        ("0", "SyncHdr", 212), ("1", "Alert", 200), ("2", "Replace", 200)]
    assert statuses[0].target_refs == [URL] and statuses[0].source_refs == [DEVID]
    assert [(type(c).__name__, c.items[0].target.loc_uri) for c in commands_of(reply)] == [
        ("Get", "./DevInfo/Mod"), ("Replace", "./Vendor/DMLab/Settings/Greeting")]
    assert [c.cmd_id for c in reply.body.commands] == ["1", "2", "3", "4", "5"]
    assert reply.body.final
    assert server.device(DEVID).devinfo == DEVINFO


def test_statuses_and_results_are_recorded_and_the_session_ends(server: DMServer,
                                                                handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./DevInfo/Mod"),
                                          dm.Replace("./Vendor/DMLab/Settings/Greeting", "hi")]))
    package2 = handset.start()
    package4 = handset.send(answer(package2, results={"./DevInfo/Mod": "Virtual Handset 1"}))

    # Status for the header only (no Status for a Results that gets 200), and Final.
    assert [(c.cmd_ref, c.code) for c in package4.body.commands] == [("0", 200)]
    assert package4.body.final and package4.header.cred is None  # we had 212
    job = server.job(queued.job_id)
    assert job.state is JobState.DONE
    assert [(c.cmd, c.uri, c.status) for c in job.commands] == [
        ("Get", "./DevInfo/Mod", 200), ("Replace", "./Vendor/DMLab/Settings/Greeting", 200)]
    assert (job.commands[0].data, job.commands[0].format) == ("Virtual Handset 1", "chr")
    [session] = server.sessions(DEVID)
    assert session.outcome is Outcome.COMPLETED and session.initiator == "client"
    assert [(c.msg_id, c.cmd, c.status, c.job_id) for c in session.commands] == [
        ("1", "Get", 200, queued.job_id), ("1", "Replace", 200, queued.job_id)]
    assert session.anomalies == ()


def test_a_session_with_nothing_to_do_ends_at_package_2(server: DMServer,
                                                       handset: Handset) -> None:
    reply = handset.start()
    assert all(isinstance(c, Status) for c in reply.body.commands) and reply.body.final
    assert server.sessions()[0].outcome is Outcome.COMPLETED


def test_a_failed_command_fails_the_job_and_keeps_every_status(server: DMServer,
                                                               handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([dm.Delete("./DevInfo"), dm.Get("./Nope")]))
    package2 = handset.start()
    handset.send(answer(package2, codes={"./DevInfo": 405, "./Nope": 404}))
    job = server.job(queued.job_id)
    assert job.state is JobState.FAILED
    assert [c.status for c in job.commands] == [405, 404]


def test_containers_alerts_exec_copy_and_binary_on_the_wire(server: DMServer,
                                                            handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([
        dm.Atomic([dm.Replace("./A", "1"), dm.Delete("./B")]),
        dm.Sequence([dm.Alert(1101, "Go?"), dm.Get("./C")]),
        dm.Alert(1103, "Pick", options="DR=2", choices=["red", "blue"]),
        dm.Exec("./X/Run", data="now", correlator="c-1"),
        dm.Copy("./S", "./T"),
        dm.Replace("./Bin", b"\x00\x01\xff", format="bin"),
    ]))
    package2 = handset.start()
    atomic, sequence, choice, exec_, copy, binary = [
        c for c in package2.body.commands if not isinstance(c, Status)]
    assert isinstance(atomic, Atomic) and [type(c).__name__ for c in atomic.commands] == [
        "Replace", "Delete"]
    assert isinstance(sequence, Sequence) and sequence.commands[0].code == 1101
    assert isinstance(choice, Alert) and [i.data for i in choice.items] == [
        "DR=2", "Pick", "red", "blue"]
    assert isinstance(exec_, Exec) and exec_.correlator == "c-1" and exec_.item.data == "now"
    assert isinstance(copy, Copy) and (copy.items[0].source.loc_uri,
                                       copy.items[0].target.loc_uri) == ("./S", "./T")
    assert isinstance(binary, Replace) and binary.items[0].data == "AAH/" \
        and binary.items[0].meta == Meta(format="b64")

    replies = answer(package2)
    for status in replies:  # the user picks "blue"
        if isinstance(status, Status) and status.cmd_ref == choice.cmd_id:
            status.items = [Item(data="2")]
    handset.send(replies)
    job = server.job(queued.job_id)
    assert [c.place for c in job.commands] == ["1", "1.1", "1.2", "2", "2.1", "2.2", "3", "4",
                                               "5", "6"]
    assert job.state is JobState.DONE
    assert job.commands[6].data == "2"


def test_one_status_per_item_is_accepted_and_a_failure_among_them_wins(
        server: DMServer, handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([dm.Replace("./A", "1")]))
    package2 = handset.start()
    replies = answer(package2)
    replies.append(Status(cmd_id="", msg_ref="1", cmd_ref=replies[-1].cmd_ref, cmd="Replace",
                          code=404, target_refs=["./A"]))
    handset.send(replies)
    assert server.job(queued.job_id).commands[0].status == 404
    assert server.sessions()[0].anomalies == ()


def test_a_status_for_no_command_of_ours_is_an_anomaly(server: DMServer,
                                                       handset: Handset) -> None:
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    package2 = handset.start()
    stray = Status(cmd_id="", msg_ref="7", cmd_ref="3", cmd="Get", code=200)
    reply = handset.send(answer(package2, results={"./A": "x"}) + [stray])
    assert reply.body.final
    assert server.sessions()[0].anomalies == (
        "Status for message 7 command 3, which we never sent",)


def test_a_generic_alert_is_recorded_and_answered_200(server: DMServer,
                                                      handset: Handset) -> None:
    alert = Alert(cmd_id="", code=AlertCode.GENERIC, correlator="c-1", items=[Item(
        source=Location(loc_uri="./X/Run"),
        meta=Meta(type="Reversed-Domain-Name: org.dmlab.exec", format="int", mark="critical"),
        data="200")])
    reply = handset.send(handset.package1() + [alert])
    assert [c.code for c in reply.body.commands if isinstance(c, Status)] == [212, 200, 200, 200]
    [record] = server.generic_alerts(DEVID)
    assert (record.code, record.correlator, record.source, record.type, record.format,
            record.mark, record.data) == (1226, "c-1", "./X/Run",
                                          "Reversed-Domain-Name: org.dmlab.exec", "int",
                                          "critical", "200")


def test_the_client_abort_ends_the_session_and_the_job_waits(server: DMServer,
                                                            handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    package2 = handset.start()
    reply = handset.send([reply_status(package2),
                          Alert(cmd_id="", code=AlertCode.SESSION_ABORT)])
    assert reply.body.final and all(isinstance(c, Status) for c in reply.body.commands)
    assert server.sessions()[0].outcome is Outcome.ABORTED
    assert server.job(queued.job_id).state is JobState.QUEUED  # none of it ran


def test_jobs_go_one_per_package_in_queue_order(server: DMServer, handset: Handset) -> None:
    first = server.queue_job(DEVID, Job([dm.Get("./A")]))
    second = server.queue_job(DEVID, Job([dm.Get("./B")]))
    package2 = handset.start()
    assert [c.items[0].target.loc_uri for c in commands_of(package2)] == ["./A"]
    package4 = handset.send(answer(package2, results={"./A": "a"}))
    assert [c.items[0].target.loc_uri for c in commands_of(package4)] == ["./B"]
    assert server.job(first.job_id).state is JobState.DONE
    assert server.job(second.job_id).state is JobState.RUNNING
    handset.send(answer(package4, header=200, results={"./B": "b"}))
    assert server.job(second.job_id).state is JobState.DONE
    assert server.sessions()[0].outcome is Outcome.COMPLETED


def test_a_command_left_unanswered_fails_the_job(server: DMServer, handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    package2 = handset.start()
    handset.send([reply_status(package2)])
    job = server.job(queued.job_id)
    assert job.state is JobState.FAILED
    assert (job.commands[0].status, job.commands[0].detail) == (None, "no status received")


def test_a_client_package_without_final_gets_1222_and_no_commands(server: DMServer,
                                                                  handset: Handset) -> None:
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    alert, devinfo = handset.package1()
    part1 = handset.send([alert], final=False)
    assert not part1.body.final and commands_of(part1)[-1].code == AlertCode.NEXT_MESSAGE
    assert [type(c).__name__ for c in commands_of(part1)] == ["Alert"]
    part2 = handset.send([reply_status(part1), devinfo], cred=False)
    assert part2.body.final and [type(c).__name__ for c in commands_of(part2)] == ["Get"]


def test_the_same_post_twice_gets_the_same_reply(server: DMServer, handset: Handset) -> None:
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    handset.start()
    handset.msg_id = 0
    handset.nonce = b"client-nonce-1"
    handset.start()
    assert handset.replies[0] == handset.replies[1]
    assert len(server.sessions()) == 1 and server.sessions()[0].anomalies == ()


def test_the_client_may_not_send_management_commands(server: DMServer,
                                                     handset: Handset) -> None:
    get = Get(cmd_id="", items=[Item(target=Location(loc_uri="./X"))])
    reply = handset.send(handset.package1() + [get])
    assert [c.code for c in reply.body.commands if isinstance(c, Status)][-1] == 405
    assert "Get" in server.sessions()[0].anomalies[0]


def test_both_mime_families_are_accepted(server: DMServer) -> None:
    handset = Handset(server, encoding=Encoding.WBXML, content_type="application/vnd.syncml+wbxml")
    reply = handset.start()
    assert header_status(reply).code == 212  # type: ignore[union-attr]
    assert handset.replies[0].content_type == "application/vnd.syncml.dm+wbxml"


def test_results_for_an_interior_node_keep_its_format(server: DMServer,
                                                      handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./Vendor")]))
    package2 = handset.start()
    [get] = commands_of(package2)
    results = Results(cmd_id="", msg_ref="1", cmd_ref=get.cmd_id, items=[Item(
        source=Location(loc_uri="./Vendor"), meta=Meta(format="node"), data="DMLab")])
    handset.send(answer(package2) + [results])
    command = server.job(queued.job_id).commands[0]
    assert (command.data, command.format) == ("DMLab", "node")


def test_package_1_again_under_the_same_session_id_starts_over(server: DMServer,
                                                               handset: Handset) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    handset.start()
    handset.msg_id = 0
    again = handset.send(handset.package1(devinfo={**DEVINFO, "./DevInfo/Lang": "fr"}))
    assert [c.items[0].target.loc_uri for c in commands_of(again)] == ["./A"]
    first, second = server.sessions()
    assert (first.outcome, second.outcome) == (Outcome.ABANDONED, None)
    assert server.job(queued.job_id).state is JobState.RUNNING  # taken up by the new one


def test_a_skipped_msg_id_is_an_anomaly(server: DMServer, handset: Handset) -> None:
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    package2 = handset.start()
    handset.msg_id += 1
    handset.send(answer(package2, results={"./A": "a"}))
    assert server.sessions()[0].anomalies == ("client MsgID '3', expected 2",)
