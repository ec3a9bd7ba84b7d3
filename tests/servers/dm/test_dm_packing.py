"""MaxMsgSize and MaxObjSize: packages over several messages (1222), large objects in
chunks both ways (MoreData, 213, Meta Size, 424, 1225)."""

from __future__ import annotations

from dm_support import (DEVID, Handset, answer, chal, commands_of, header_status, reply_status,
                        server_cred_ok)

from dmclient.wire import Alert, AlertCode, Encoding, Item, Location, Meta, Results, Status
from servers import dm
from servers.dm import DMServer, Job, JobState, Outcome


def test_a_package_over_max_msg_size_goes_out_in_messages(server: DMServer,
                                                          encoding: Encoding) -> None:
    uris = [f"./Vendor/DMLab/Apps/app{n:02}" for n in range(30)]
    queued = server.queue_job(DEVID, Job([dm.Replace(uri, "v" * 150) for uri in uris]))
    handset = Handset(server, encoding=encoding, max_msg_size=2000)
    message = handset.start()
    received: list[str] = []
    while True:
        assert len(handset.replies[-1].body) <= 2000
        received += [c.items[0].target.loc_uri for c in commands_of(message)
                     if not isinstance(c, Alert)]
        if message.body.final:
            break
        # The handset answers each part and asks for the next one.
        message = handset.send(answer(message, header=200)
                               + [Alert(cmd_id="", code=AlertCode.NEXT_MESSAGE)], final=False)
    assert received == uris and handset.msg_id > 2
    end = handset.send(answer(message, header=200))
    assert end.body.final and all(isinstance(c, Status) for c in end.body.commands)
    assert server.job(queued.job_id).state is JobState.DONE
    assert server.sessions()[0].anomalies == ()


def test_a_100_kb_replace_goes_in_chunks(server: DMServer, encoding: Encoding) -> None:
    data = "".join(chr(0x41 + n % 26) for n in range(100_000)) + "<&>"
    queued = server.queue_job(DEVID, Job([dm.Replace("./Vendor/DMLab/Settings/Greeting", data,
                                                     format="chr"), dm.Get("./A")]))
    handset = Handset(server, encoding=encoding, max_msg_size=8192)
    message = handset.start()
    chunks = []
    while True:
        assert len(handset.replies[-1].body) <= 8192
        replaces = [c for c in commands_of(message) if c.__class__.__name__ == "Replace"]
        if not replaces:
            break
        [replace] = replaces
        [item] = replace.items
        chunks.append(item)
        if item.more_data:
            assert message.body.commands[-1] is replace  # a chunk ends its message
        code = 213 if item.more_data else 200
        message = handset.send(answer(message, header=200, default=code, results={"./A": "a"})
                               + [Alert(cmd_id="", code=AlertCode.NEXT_MESSAGE)],
                               final=not item.more_data)
    assert len(chunks) > 10
    assert chunks[0].meta == Meta(format="chr", size=len(data.encode()))
    assert all(c.meta is None for c in chunks[1:])
    assert [c.more_data for c in chunks] == [True] * (len(chunks) - 1) + [False]
    assert "".join(c.data for c in chunks) == data
    job = server.job(queued.job_id)
    assert job.state is JobState.DONE and job.commands[0].status == 200


def test_a_refused_chunk_stops_the_object(server: DMServer) -> None:
    queued = server.queue_job(DEVID, Job([dm.Replace("./X", "x" * 50_000), dm.Get("./A")]))
    handset = Handset(server, max_msg_size=8192)
    chunk = handset.start()
    assert commands_of(chunk)[0].items[0].more_data and not chunk.body.final
    after = handset.send(answer(chunk, header=200, default=413)
                         + [Alert(cmd_id="", code=AlertCode.NEXT_MESSAGE)], final=False)
    assert [c.items[0].target.loc_uri for c in commands_of(after)] == ["./A"]
    handset.send(answer(after, header=200, results={"./A": "a"}))
    job = server.job(queued.job_id)
    assert job.state is JobState.FAILED and [c.status for c in job.commands] == [413, 200]


def test_an_object_over_the_devices_max_obj_size_is_not_sent(server: DMServer) -> None:
    queued = server.queue_job(DEVID, Job([dm.Replace("./X", "x" * 5000), dm.Get("./A")]))
    handset = Handset(server, max_obj_size=1000)
    package2 = handset.start()
    assert [c.items[0].target.loc_uri for c in commands_of(package2)] == ["./A"]
    handset.send(answer(package2, results={"./A": "a"}))
    job = server.job(queued.job_id)
    assert job.state is JobState.FAILED
    assert (job.commands[0].status, job.commands[0].detail) == (
        None, "not sent: object of 5000 bytes is over the device's MaxObjSize 1000")


def _large_results(handset: Handset, server: DMServer, pieces: list[str],
                   size: int) -> list[list[int]]:
    """Send a Get's Results in chunks, one per message; the codes of our Statuses each time."""
    package2 = handset.start()
    [get] = commands_of(package2)
    codes = []
    message = package2
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        item = Item(source=Location(loc_uri="./Big"), data=piece, more_data=not last,
                    meta=Meta(size=size) if n == 0 else None)
        results = Results(cmd_id="", msg_ref="1", cmd_ref=get.cmd_id, items=[item])
        head = answer(package2, header=200) if n == 0 else [reply_status(message, 200)]
        message = handset.send(head + [results], final=last)
        codes.append([c.code for c in message.body.commands if isinstance(c, Status)][1:])
    return codes


def test_large_results_from_the_client_are_reassembled(server: DMServer,
                                                       encoding: Encoding) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./Big")]))
    handset = Handset(server, encoding=encoding)
    pieces = ["a" * 3000, "b" * 3000, "c" * 10]
    assert _large_results(handset, server, pieces, 6010) == [[213], [213], []]
    command = server.job(queued.job_id).commands[0]
    assert command.data == "".join(pieces) and command.status == 200
    assert server.sessions()[0].outcome is Outcome.COMPLETED


def test_large_results_of_the_wrong_size_get_424(server: DMServer) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./Big")]))
    handset = Handset(server)
    assert _large_results(handset, server, ["a" * 100, "b" * 100], 999) == [[213], [424]]
    job = server.job(queued.job_id)
    assert job.state is JobState.FAILED and job.commands[0].status == 424
    assert job.commands[0].data is None


def test_interrupted_large_results_get_1225(server: DMServer) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./Big")]))
    handset = Handset(server)
    package2 = handset.start()
    [get] = commands_of(package2)
    item = Item(source=Location(loc_uri="./Big"), data="a" * 100, more_data=True,
                meta=Meta(size=500))
    results = Results(cmd_id="", msg_ref="1", cmd_ref=get.cmd_id, items=[item])
    reply = handset.send(answer(package2, header=200) + [results])  # Final: nothing follows
    [alert] = commands_of(reply)
    assert alert.code == AlertCode.NO_END_OF_DATA and alert.items[0].source.loc_uri == "./Big"
    handset.send([reply_status(reply, 200)] + answer(reply, header=None))
    assert server.job(queued.job_id).commands[0].detail == "large Results interrupted"
    assert "interrupted" in server.sessions()[0].anomalies[0]
    assert header_status(reply).code == 200  # type: ignore[union-attr]


def test_a_job_that_cannot_be_sent_at_all_ends_the_session(server: DMServer) -> None:
    unsendable = server.queue_job(DEVID, Job([dm.Replace("./X", "x" * 5000)]))
    later = server.queue_job(DEVID, Job([dm.Get("./A")]))
    reply = Handset(server, max_obj_size=1000).start()
    assert reply.body.final and commands_of(reply) == []
    assert server.sessions()[0].outcome is Outcome.COMPLETED
    assert server.job(unsendable.job_id).state is JobState.FAILED
    assert server.job(later.job_id).state is JobState.QUEUED  # for the next session


def test_an_atomic_over_max_msg_size_is_not_sent(server: DMServer) -> None:
    queued = server.queue_job(DEVID, Job([
        dm.Atomic([dm.Replace(f"./X{n}", "x" * 300) for n in range(10)]), dm.Get("./A")]))
    handset = Handset(server, max_msg_size=2000)
    package2 = handset.start()
    assert [c.items[0].target.loc_uri for c in commands_of(package2)] == ["./A"]
    job = server.job(queued.job_id)
    assert job.commands[0].detail == "not sent: too big for the device's MaxMsgSize 2000"
    assert job.commands[1].detail == job.commands[0].detail  # its children too


def test_a_chunk_refused_for_our_credentials_is_sent_again(server: DMServer) -> None:
    data = "0123456789" * 2000
    queued = server.queue_job(DEVID, Job([dm.Replace("./X", data)]))
    handset = Handset(server, max_msg_size=4096)
    message = handset.start()
    first = commands_of(message)[0].items[0]
    # The handset refuses our Cred: 401 + Chal, 215 for the chunk, and asks for more.
    message = handset.send(answer(message, header=401, default=215, chal=chal(b"fresh"))
                           + [Alert(cmd_id="", code=AlertCode.NEXT_MESSAGE)], final=False)
    assert server_cred_ok(message, b"fresh")
    again = commands_of(message)[0].items[0]
    # The object starts over (the chunk may differ in length: the message around it does).
    assert data.startswith(again.data) and (again.meta, again.more_data) == (first.meta, True)
    chunks = [again]
    while chunks[-1].more_data:
        message = handset.send(answer(message, header=212, default=213)
                               + [Alert(cmd_id="", code=AlertCode.NEXT_MESSAGE)], final=False)
        chunks.append(commands_of(message)[0].items[0])
    handset.send(answer(message, header=None))
    assert "".join(c.data for c in chunks) == data
    assert server.job(queued.job_id).state is JobState.DONE
