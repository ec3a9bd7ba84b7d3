"""A server restarted mid-delegation rolls it back on start-up: no half-delegated handset."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from servers.delegation.engine import Delegation, Status
from servers.delegation.link import DELEGATION_PATH, Verdict, link_app
from servers.delegation.messages import DelInfo, DelType, Failure, Message, Notif, decode, encode
from servers.delegation.methods import Role
from servers.delegation.service import DelegationService
from servers.delegation.store import DelegationStore
from servers.dm import DMServer, Registry, ServerConfig
from servers.pki import LabCA, client_context, server_context

TNDS = '<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD></MgmtTree>'


def test_a_restart_rolls_back_and_tells_the_peer(tmp_path: Path) -> None:
    # dms2 took part in a method-1 delegation up to sending DELEGATION_START, then stopped.
    notif = Notif("dms1", DelInfo("IMEI:1", ("./Vendor/DMLab",)), DelType.FULL, 1)
    _, events = Delegation.initiate("d-0123456789", Role.DMS1, "dms1", "dms2", notif)
    dms2, _ = Delegation.respond(decode(encode(events[0].message)), "dms2", dmacc=TNDS)
    path = str(tmp_path / "dms2-delegations.sqlite")
    store = DelegationStore(path)
    store.save(dms2)
    store.close()
    ca = LabCA.create(tmp_path / "pki")
    issued = ca.issue("dms2")

    async def main() -> DelegationService:
        heard: list[Message] = []

        async def dms1_sink(message: Message) -> Verdict:
            heard.append(message)
            return Verdict(True)

        runner = web.AppRunner(link_app("dms1", dms1_sink), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(
            ca.issue("dms1"), client_ca=ca.ca_file)).start()
        link = f"https://127.0.0.1:{runner.addresses[0][1]}{DELEGATION_PATH}"
        dm = DMServer(ServerConfig(server_id="dms2", url="https://127.0.0.1:1/dm"), Registry(),
                      clock=time.time)
        try:
            async with aiohttp.ClientSession() as http:
                service = DelegationService(dm, http=http,
                                            tls=client_context(ca.ca_file, issued),
                                            peers={"dms1": link}, store=DelegationStore(path))
                service.run()
                outcome = await asyncio.wait_for(service.finished("d-0123456789"), 10)
                await service.close()
        finally:
            await runner.cleanup()
        assert outcome.status is Status.ROLLED_BACK and "restarted" in outcome.reason
        [failure] = heard  # the peer is told, over the authenticated link
        assert isinstance(failure.body, Failure) and failure.sender == "dms2"
        assert failure.sequence > dms2.sent  # not mistaken for a replay
        return service

    service = asyncio.run(main())
    assert service.store.running() == []
    service.store.close()
