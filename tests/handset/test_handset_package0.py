"""Server-initiated sessions: package 0 over HTTP and UDP on loopback, verified with the
account's SRVCRED before anything happens; SuppressSession; Generic Alert follow-ups."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

import aiohttp
from handset_support import (GREETING, SRVCRED_NONCE, SUPPRESS, SpecHttpServer, alert_codes,
                             first_request_of, point_at, serving)

from dmclient.handset import Handset, HandsetError, Verdict
from dmclient.notification import RESYNC_NONCE, NonceMatch, Notification, UIMode, encode
from dmclient.session import ExecRequest, ExecResult, GenericReport, UiMode, UiPolicy
from dmclient.tree import Tree, load_profile

NOTIFICATION = "application/vnd.syncml.notification"


def package0(session_id: int = 0x1A2B, *, secret: str = "dms1-secret",
             nonce: bytes = b"server-nonce-1", ui_mode: UIMode = UIMode.BACKGROUND) -> bytes:
    return encode(Notification(session_id=session_id, server_id="dms1", ui_mode=ui_mode),
                  secret, nonce)


async def post(port: int, data: bytes, content_type: str = NOTIFICATION) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{port}/notification", data=data,
                             headers={"Content-Type": content_type}) as answer:
            return answer.status


@asynccontextmanager
async def listening(server: SpecHttpServer, **options: object) -> AsyncIterator[tuple[Handset, int]]:
    """A spec server, and a handset aimed at it listening for package 0 on loopback."""
    async with serving(server.app()) as url:
        server.url = url
        tree = Tree(load_profile("default"))
        point_at(tree, url)
        handset = Handset(tree, **options)
        port = await handset.listen()
        try:
            yield handset, port
        finally:
            await handset.stop()


def pushing_server(**options: object) -> SpecHttpServer:
    return SpecHttpServer(commands=[("Replace", GREETING, "pushed")], **options)


def test_a_valid_package0_starts_a_server_initiated_session() -> None:
    async def main() -> None:
        server = pushing_server()
        async with listening(server) as (handset, port):
            assert await post(port, package0(0x1A2B)) == 202
            record = handset.notifications[-1]
            assert record.verdict is Verdict.ACCEPTED and record.nonce is NonceMatch.STORED
            summary = await record.session
            assert summary.outcome == "completed" and summary.initiator == "server"
            assert summary.session_id == "1A2B"
            assert alert_codes(first_request_of(server, "1A2B")) == ["1200"]
            assert handset.tree.get(GREETING).value == "pushed"

    asyncio.run(main())


def test_a_forged_package0_is_ignored() -> None:
    async def main() -> None:
        server = pushing_server()
        async with listening(server) as (handset, port):
            before = handset.tree.digest()
            tampered = bytearray(package0())
            tampered[-1] ^= 0x01  # one bit of the server ID: "dms0"
            tampered_id = bytearray(package0())
            tampered_id[20] ^= 0x10  # one bit of the session ID
            for forged in (package0(secret="not-the-secret"), bytes(tampered),
                           bytes(tampered_id), package0(nonce=b"an-old-nonce")):
                assert await post(port, forged) == 403
            assert await post(port, b"short") == 400
            assert await post(port, package0(), content_type="text/plain") == 415
            assert [r.verdict for r in handset.notifications] == [
                Verdict.FORGED, Verdict.UNKNOWN_SERVER, Verdict.FORGED, Verdict.FORGED,
                Verdict.MALFORMED]
            assert all(r.session is None for r in handset.notifications)
            assert not server.requests and not handset.sessions
            assert handset.tree.digest() == before

    asyncio.run(main())


def test_a_package0_on_the_resync_nonce_is_accepted_and_nonces_refreshed() -> None:
    async def main() -> None:
        # The server lost our nonce: it signs package 0 and its Cred with four zero bytes.
        server = pushing_server(server_nonce=RESYNC_NONCE)
        async with listening(server) as (handset, port):
            assert await post(port, package0(0x77, nonce=RESYNC_NONCE)) == 202
            record = handset.notifications[-1]
            assert record.nonce is NonceMatch.RESYNC
            summary = await record.session
            assert summary.outcome == "completed"
            assert handset.tree.get(GREETING).value == "pushed"
            fresh = handset.tree.node(SRVCRED_NONCE).value
            assert fresh not in (RESYNC_NONCE, b"server-nonce-1") and fresh == server.server_nonce

    asyncio.run(main())


def test_suppress_session_blocks_client_sessions_not_package0() -> None:
    async def main() -> None:
        server = pushing_server()
        async with listening(server) as (handset, port):
            handset.tree.replace(SUPPRESS, None, value="true")
            try:
                await handset.connect("dms1")
                raise AssertionError("a suppressed client-initiated session was opened")
            except HandsetError as refusal:
                assert "SuppressSession is true" in str(refusal)
            assert not server.requests
            assert await post(port, package0()) == 202
            assert (await handset.notifications[-1].session).outcome == "completed"

    asyncio.run(main())


def test_ui_mode_3_asks_the_user() -> None:
    async def main() -> None:
        server = pushing_server()
        async with listening(server, ui=UiPolicy(mode=UiMode.DENY)) as (handset, port):
            assert await post(port, package0(ui_mode=UIMode.USER_INTERACTION)) == 200
            assert handset.notifications[-1].verdict is Verdict.DECLINED
            assert handset.ui.shown == ["Start a session with dms1?"]
            handset.ui.mode = UiMode.ACCEPT
            assert await post(port, package0(ui_mode=UIMode.USER_INTERACTION)) == 202
            assert (await handset.notifications[-1].session).outcome == "completed"

    asyncio.run(main())


def test_package0_over_udp() -> None:
    async def main() -> None:
        server = pushing_server()
        async with listening(server) as (handset, _):
            port = await handset.listen_udp()
            loop = asyncio.get_running_loop()
            sender, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port))
            sender.sendto(package0(0xABC))
            sender.close()
            await asyncio.wait_for(server.request_seen.wait(), 10)
            record = handset.notifications[-1]
            assert record.via == "udp" and record.verdict is Verdict.ACCEPTED
            assert (await record.session).session_id == "ABC"

    asyncio.run(main())


def test_async_exec_results_go_out_in_a_follow_up_session() -> None:
    def later(request: ExecRequest) -> ExecResult:
        return ExecResult(202, GenericReport(request.uri, request.correlator, "200"))

    async def main() -> None:
        server = SpecHttpServer(commands=[("Exec", GREETING)])
        async with listening(server, exec_handler=later) as (handset, _):
            summary = await handset.connect("dms1")
            assert [(c.cmd, c.status) for c in summary.commands] == [("Exec", 202)]
            followup = summary.followup
            assert followup is not None and followup.outcome == "completed"
            assert alert_codes(first_request_of(server, followup.session_id)) == ["1201", "1226"]
            assert handset.pending_reports == {}
            assert summary.to_json()["followup"]["session_id"] == followup.session_id

    asyncio.run(main())


def test_polling_opens_client_sessions() -> None:
    async def main() -> None:
        server = pushing_server()
        done = asyncio.Event()
        async with listening(server, poll_interval=3600,
                             on_event=lambda line: done.set()
                             if line.startswith("session") else None) as (handset, _):
            serving_task = asyncio.create_task(handset.serve_forever())
            await asyncio.wait_for(done.wait(), 10)
            await handset.stop()
            await serving_task
            assert [s.initiator for s in handset.sessions] == ["client"]
            assert handset.tree.get(GREETING).value == "pushed"

    asyncio.run(main())


def test_polling_skips_a_suppressed_server() -> None:
    async def main() -> None:
        server = pushing_server()
        skipped = asyncio.Event()
        async with listening(server, poll_interval=3600,
                             on_event=lambda line: skipped.set()
                             if line.startswith("poll: dms1 skipped") else None) as (handset, _):
            handset.tree.replace(SUPPRESS, None, value="true")
            serving_task = asyncio.create_task(handset.serve_forever())
            await asyncio.wait_for(skipped.wait(), 10)
            await handset.stop()
            await serving_task
            assert list(handset.sessions) == [] and server.requests == []
            assert handset.tree.get(GREETING).value == "Hello from dmlab"

    asyncio.run(main())
