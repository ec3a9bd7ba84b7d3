"""The handset's engine and the reference server's, talking through bytes in memory.

No sockets here (the transport tests add them): this is where the two protocol engines
are held to each other for every auth scheme, both encodings and both initiators.
"""

from __future__ import annotations

import itertools

import pytest

from dmclient import notification
from dmclient.session import ClientSession, Ended, Outcome
from dmclient.tree import Tree, load_profile
from dmclient.wire import Encoding
from servers.dm import (DeviceConfig, DMServer, Get, Job, JobState, Registry, Replace,
                        ServerConfig)

DEVID = "IMEI:358240051111110"
SCHEMES = {"BASIC": "BASIC", "DIGEST": "DIGEST", "HMAC": "HMAC"}


def make_pair(client_auth: str = "DIGEST", server_auth: str = "DIGEST",
              encoding: Encoding = Encoding.XML, server_secret: str = "dms1-secret",
              max_msg_size: int = 16384) -> tuple[Tree, DMServer]:
    tree = Tree(load_profile("default"))
    tree.replace("./DMAcc/dms1/AppAuth/ClientSide/AAuthType", None, value=client_auth)
    tree.replace("./DMAcc/dms1/AppAuth/ServerSide/AAuthType", None, value=server_auth)
    device = DeviceConfig(device_id=DEVID, client_auth=client_auth,
                          client_secret="handset-secret", client_nonce="Y2xpZW50LW5vbmNlLTE=",
                          server_auth=server_auth, server_secret=server_secret,
                          server_nonce="c2VydmVyLW5vbmNlLTE=",
                          notify_url="http://127.0.0.1:9/notification")
    config = ServerConfig(server_id="dms1", url="https://127.0.0.1:8443/dm", encoding=encoding,
                          max_msg_size=max_msg_size, devices=[device])
    ticks = itertools.count(1_700_000_000)
    return tree, DMServer(config, Registry(), clock=lambda: float(next(ticks)))


def converse(session: ClientSession, server: DMServer) -> Ended:
    step = session.start()
    for _ in range(200):
        if isinstance(step, Ended):
            return step
        reply = server.handle(step.body, content_type=step.content_type, headers=step.headers)
        assert reply.http_status == 200, reply.reason
        step = session.receive(reply.body, reply.content_type, reply.headers)
    raise AssertionError("no end")


JOB = Job([Get("./DevInfo/Mod"), Replace("./Vendor/DMLab/Settings/Greeting", "from dms1"),
           Get("./Vendor/DMLab/Settings/Greeting"), Get("./DMAcc/dms1/ServerID"),
           Get("./DevDetail/FwV"), Get("./DevInfo/Lang"),
           Replace("./Vendor/DMLab/Settings/Telemetry", "true", format="bool")])


@pytest.mark.parametrize("encoding", [Encoding.XML, Encoding.WBXML])
@pytest.mark.parametrize("client_auth, server_auth", [
    (c, s) for c in SCHEMES for s in SCHEMES])
def test_every_auth_pair_in_both_encodings(client_auth: str, server_auth: str,
                                           encoding: Encoding) -> None:
    tree, server = make_pair(client_auth, server_auth, encoding)
    queued = server.queue_job(DEVID, JOB)
    ended = converse(ClientSession(tree, "dms1", encoding=encoding), server)
    assert ended.outcome is Outcome.COMPLETED, ended.reason
    job = server.job(queued.job_id)
    assert job.state is JobState.DONE
    assert [c.status for c in job.commands] == [200] * 7
    assert job.commands[0].data == "Virtual Handset 1"
    assert tree.get("./Vendor/DMLab/Settings/Greeting").value == "from dms1"
    # A second session on the nonces the first one left works too.
    again = server.queue_job(DEVID, Job([Get("./DevInfo/Man")]))
    assert converse(ClientSession(tree, "dms1", encoding=encoding), server).outcome \
        is Outcome.COMPLETED
    assert server.job(again.job_id).commands[0].data == "dmlab"


def test_hmac_session_with_nothing_to_do_then_one_with_work() -> None:
    """The nonce the handset issues on the server's last message never reaches the
    server, so it must not be kept (regression)."""
    tree, server = make_pair("HMAC", "HMAC")
    for _ in range(3):
        assert converse(ClientSession(tree, "dms1"), server).outcome is Outcome.COMPLETED
    queued = server.queue_job(DEVID, Job([Get("./DevInfo/Man")]))
    assert converse(ClientSession(tree, "dms1"), server).outcome is Outcome.COMPLETED
    assert server.job(queued.job_id).commands[0].status == 200


def test_server_initiated_session_from_package0() -> None:
    tree, server = make_pair()
    queued = server.queue_job(DEVID, Job([Get("./DevInfo/DmV")]))
    push = queued.notification
    assert push is not None and push.url == "http://127.0.0.1:9/notification"
    match = notification.verify_with_resync(push.body, "dms1-secret", b"server-nonce-1")
    assert match.verified
    trigger, _ = notification.decode(push.body)
    session = ClientSession(tree, "dms1", session_id=trigger.syncml_session_id)
    assert converse(session, server).outcome is Outcome.COMPLETED
    assert server.job(queued.job_id).commands[0].data == "1.2"
    assert server.sessions(DEVID)[-1].initiator.value == "server"


def test_large_objects_both_ways_under_a_small_max_msg_size() -> None:
    tree, server = make_pair(max_msg_size=4000)
    big = "0123456789abcdef" * 6400  # 100 KB
    queued = server.queue_job(DEVID, Job([Replace("./Vendor/DMLab/Settings/Greeting", big),
                                          Get("./Vendor/DMLab/Settings/Greeting")]))
    session = ClientSession(tree, "dms1", max_msg_size=4000, encoding=Encoding.WBXML)
    assert converse(session, server).outcome is Outcome.COMPLETED
    job = server.job(queued.job_id)
    assert [c.status for c in job.commands] == [200, 200]
    assert job.commands[1].data == big and tree.get("./Vendor/DMLab/Settings/Greeting").value == big
    assert max(len(b) for d, b in session.messages if d == "out") <= 4000


def test_a_wrong_server_secret_fails_both_sides_and_changes_nothing() -> None:
    tree, server = make_pair(server_secret="wrong")
    queued = server.queue_job(DEVID, JOB)
    before = tree.export("./Vendor")
    ended = converse(ClientSession(tree, "dms1"), server)
    assert ended.outcome is Outcome.AUTH_FAILED
    assert tree.export("./Vendor") == before
    assert server.job(queued.job_id).state is not JobState.DONE


def test_jobs_per_session_limits_the_work_of_one_session() -> None:
    tree, server = make_pair()
    server.config.jobs_per_session = 1
    first = server.queue_job(DEVID, Job([Get("./DevInfo/Man")]))
    second = server.queue_job(DEVID, Job([Get("./DevInfo/Mod")]))
    assert converse(ClientSession(tree, "dms1"), server).outcome is Outcome.COMPLETED
    assert server.job(first.job_id).state is JobState.DONE
    assert server.job(second.job_id).state is JobState.QUEUED
    assert converse(ClientSession(tree, "dms1"), server).outcome is Outcome.COMPLETED
    assert server.job(second.job_id).state is JobState.DONE
