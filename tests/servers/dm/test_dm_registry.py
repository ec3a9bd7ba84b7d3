"""The registry on a real SQLite file: what sessions change survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from dm_support import DEVID, Clock, Handset, answer, chal, header_status, make_server, server_cred_ok

from dmclient.wire import Encoding
from servers import dm
from servers.dm import Initiator, Job, JobState, Outcome, Registry


def test_nonces_persist_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "dms1.sqlite"
    server = make_server(Registry(path))
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    handset = Handset(server)
    package2 = handset.start()  # 212 with the client's next nonce (srv-1)
    handset.send(answer(package2, chal=chal(b"for-the-server"), results={"./A": "a"}))
    server.registry.close()

    restarted = make_server(Registry(path))
    record = restarted.device(DEVID)
    assert (record.client_nonce, record.server_nonce) == (b"srv-1", b"for-the-server")
    restarted.queue_job(DEVID, Job([dm.Get("./A")]))
    again = Handset(restarted, session_id="60", nonce=b"srv-1")
    reply = again.start()
    assert header_status(reply).code == 212  # type: ignore[union-attr]
    assert server_cred_ok(reply, b"for-the-server")
    assert [s.outcome for s in restarted.sessions()] == [Outcome.COMPLETED, None]


def test_jobs_and_sessions_persist(tmp_path: Path) -> None:
    path = tmp_path / "dms1.sqlite"
    server = make_server(Registry(path))
    done = server.queue_job(DEVID, Job([dm.Get("./A")]))
    handset = Handset(server, encoding=Encoding.WBXML)  # only WBXML carries raw bytes
    handset.send(answer(handset.start(), results={"./A": b"\x00\xff"}))
    waiting = server.queue_job(DEVID, Job([dm.Atomic([dm.Replace("./B", b"\x01")])]))
    server.registry.close()

    registry = Registry(path)
    assert registry.job(done.job_id).state is JobState.DONE
    assert registry.job(done.job_id).commands[0].data == b"\x00\xff"
    session = registry.sessions(DEVID)[0]
    assert (session.initiator, session.outcome, len(session.commands)) == (
        Initiator.CLIENT, Outcome.COMPLETED, 1)
    claimed = registry.claim_job(DEVID, session=9, now=1.0)
    assert claimed == (waiting.job_id, Job([dm.Atomic([dm.Replace("./B", b"\x01", format="bin")])]))
    assert registry.job(waiting.job_id).state is JobState.RUNNING


def test_a_transaction_is_all_or_nothing() -> None:
    registry = Registry()
    registry.ensure_device(DEVID, b"c", b"s")
    with pytest.raises(RuntimeError), registry.transaction():
        registry.set_client_nonce(DEVID, b"changed")
        registry.add_job(DEVID, Job([dm.Get("./A")]), 1.0)
        raise RuntimeError("crash mid-message")
    assert registry.device(DEVID).client_nonce == b"c"  # type: ignore[union-attr]
    assert registry.jobs() == []


def test_config_nonces_only_seed_a_new_device() -> None:
    registry = Registry()
    registry.ensure_device(DEVID, b"c", b"s")
    registry.set_server_nonce(DEVID, b"moved on")
    make_server(registry)  # its config says server-nonce-1
    assert registry.device(DEVID).server_nonce == b"moved on"  # type: ignore[union-attr]


def test_a_silent_session_times_out_and_its_job_goes_back(clock: Clock) -> None:
    server = make_server(clock=clock)
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    Handset(server).start()
    assert server.expire_sessions() == []
    clock.now += 301
    assert server.expire_sessions() == [1]
    assert server.sessions()[0].outcome is Outcome.TIMEOUT
    assert server.job(queued.job_id).state is JobState.QUEUED
