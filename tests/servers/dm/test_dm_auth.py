"""Authentication both ways: the server challenging the handset, and proving itself."""

from __future__ import annotations

from dm_support import (CLIENT_NONCE, DEVID, SERVER_NONCE, Handset, answer, chal, commands_of,
                        device, header_status, make_server, reply_status, server_cred_ok,
                        server_mac_ok)

from dmclient.auth import AuthType
from dmclient.wire import HMAC_HEADER_NAME, AlertCode, Encoding, Status
from servers import dm
from servers.dm import DMServer, Job, JobState, Outcome


def statuses(message) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    return [(c.cmd, c.code) for c in message.body.commands if isinstance(c, Status)]


def test_basic_both_ways(encoding: Encoding) -> None:
    server = make_server(None, device(client_auth="BASIC", server_auth="BASIC"))
    handset = Handset(server, encoding=encoding, auth=AuthType.BASIC)
    reply = handset.start()
    status = header_status(reply)
    assert status is not None and (status.code, status.chal) == (212, None)
    assert server_cred_ok(reply, expected=AuthType.BASIC)


def test_md5_missing_cred_is_challenged_then_package_1_again_gets_212(
        server: DMServer, encoding: Encoding) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    handset = Handset(server, encoding=encoding)
    refused = handset.send(handset.package1(), cred=False)

    assert statuses(refused) == [("SyncHdr", 407), ("Alert", 215), ("Replace", 215)]
    status = header_status(refused)
    assert status.chal.type == "syncml:auth-md5" and status.chal.format == "b64"  # type: ignore[union-attr]
    assert handset.nonce == b"srv-1" and refused.body.final and not commands_of(refused)
    assert server.device(DEVID).client_nonce == b"srv-1"  # issued, so persisted

    accepted = handset.start()  # same SessionID, MsgID 2, Cred on the new nonce
    assert header_status(accepted).code == 212  # type: ignore[union-attr]
    assert [type(c).__name__ for c in commands_of(accepted)] == ["Get"]
    # The 212 carries the nonce for the next session, which is what the server keeps.
    assert handset.nonce == b"srv-2" == server.device(DEVID).client_nonce
    assert server.job(queued.job_id).state is JobState.RUNNING
    assert server.sessions()[0].anomalies == ()


def test_md5_on_a_stale_nonce_gets_one_more_chance(server: DMServer) -> None:
    handset = Handset(server, nonce=b"stale")
    assert header_status(handset.start()).code == 401  # type: ignore[union-attr]
    assert header_status(handset.start()).code == 212  # type: ignore[union-attr]


def test_a_wrong_secret_twice_ends_the_session(server: DMServer, encoding: Encoding) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    handset = Handset(server, encoding=encoding, secret="guess")
    first = handset.start()
    assert header_status(first).code == 401 and header_status(first).chal is not None  # type: ignore[union-attr]
    second = handset.start()
    assert statuses(second) == [("SyncHdr", 401), ("Alert", 215), ("Replace", 215)]
    assert second.body.final
    session = server.sessions()[0]
    assert session.outcome is Outcome.AUTH_FAILED
    assert server.job(queued.job_id).state is JobState.QUEUED
    # The session is gone: a third try is refused with an abort.
    third = handset.send([reply_status(second)])
    assert [c.code for c in commands_of(third)] == [AlertCode.SESSION_ABORT]


def test_hmac_from_the_client(encoding: Encoding) -> None:
    server = make_server(None, device(client_auth="HMAC"))
    handset = Handset(server, encoding=encoding, auth=AuthType.MAC)
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    package2 = handset.start()
    status = header_status(package2)
    assert (status.code, status.chal.type) == (200, "syncml:auth-MAC")  # type: ignore[union-attr]
    assert handset.nonce == b"srv-1"
    package4 = handset.send(answer(package2, header=212, results={"./A": "a"}))
    assert header_status(package4).code == 200 and handset.nonce == b"srv-2"  # type: ignore[union-attr]
    assert server.device(DEVID).client_nonce == b"srv-2"


def test_hmac_missing_or_wrong_is_refused() -> None:
    server = make_server(None, device(client_auth="HMAC"))
    handset = Handset(server, auth=AuthType.MAC)
    assert header_status(handset.send(handset.package1(), cred=False)).code == 407  # type: ignore[union-attr]
    handset.secret = "guess"
    refused = handset.start()
    assert header_status(refused).code == 401  # type: ignore[union-attr]
    assert server.sessions()[0].outcome is Outcome.AUTH_FAILED


def test_hmac_from_the_server(encoding: Encoding) -> None:
    server = make_server(None, device(server_auth="HMAC"))
    handset = Handset(server, encoding=encoding)
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    package2 = handset.start()
    assert package2.header.cred is None
    assert server_mac_ok(handset.replies[-1], SERVER_NONCE)
    handset.send(answer(package2, header=200, chal=chal(b"next-1", AuthType.MAC),
                        results={"./A": "a"}))
    assert server_mac_ok(handset.replies[-1], b"next-1")
    assert server.device(DEVID).server_nonce == b"next-1"
    assert HMAC_HEADER_NAME in handset.replies[-1].headers


def test_a_client_refusing_our_cred_gets_the_commands_again_with_a_new_cred(
        server: DMServer, encoding: Encoding) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./A"), dm.Replace("./B", "b")]))
    handset = Handset(server, encoding=encoding)
    package2 = handset.start()
    # The convention shared with the handset: 401 + Chal on our header, 215 for the rest.
    package4 = handset.send(answer(package2, header=401, default=215, chal=chal(b"fresh")))
    assert server_cred_ok(package4, b"fresh")
    assert [(type(c).__name__, c.items[0].target.loc_uri) for c in commands_of(package4)] == [
        ("Get", "./A"), ("Replace", "./B")]
    # The handset's message was authenticated (212 earlier), so its nonce is stored.
    assert server.device(DEVID).server_nonce == b"fresh"

    package6 = handset.send(answer(package4, results={"./A": "a"}))
    assert package6.header.cred is None and package6.body.final
    job = server.job(queued.job_id)
    assert job.state is JobState.DONE and [c.status for c in job.commands] == [200, 200]
    sent = server.sessions()[0].commands
    assert [(c.msg_id, c.status) for c in sent] == [("1", 215), ("1", 215), ("2", 200), ("2", 200)]


def test_a_client_refusing_us_twice_gets_an_abort(server: DMServer) -> None:
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    handset = Handset(server)
    package2 = handset.start()
    package4 = handset.send(answer(package2, header=401, default=215, chal=chal(b"fresh")))
    abort = handset.send(answer(package4, header=401, default=215, chal=chal(b"again")))
    assert [c.code for c in commands_of(abort)] == [AlertCode.SESSION_ABORT] and abort.body.final
    assert server.sessions()[0].outcome is Outcome.AUTH_FAILED
    assert server.job(queued.job_id).state is JobState.QUEUED


def test_212_with_a_chal_gives_the_nonce_for_our_next_session(server: DMServer) -> None:
    handset = Handset(server)
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    package2 = handset.start()
    handset.send(answer(package2, chal=chal(b"next-session"), results={"./A": "a"}))
    assert server.device(DEVID).server_nonce == b"next-session"

    server.queue_job(DEVID, Job([dm.Get("./A")]))
    assert handset.nonce == b"srv-1" == server.device(DEVID).client_nonce
    again = Handset(server, session_id="77", nonce=handset.nonce)
    reply = again.start()
    assert header_status(reply).code == 212  # type: ignore[union-attr]
    assert server_cred_ok(reply, b"next-session")


def test_a_nonce_from_an_unauthenticated_message_is_not_stored(server: DMServer) -> None:
    handset = Handset(server, nonce=b"stale")
    refused = handset.start()
    # A client that failed our check cannot move our stored nonce.
    handset.send([reply_status(refused, 401, chal(b"planted"))] + handset.package1(),
                 cred=False)
    assert server.device(DEVID).server_nonce == SERVER_NONCE
    assert server.device(DEVID).client_nonce != CLIENT_NONCE
