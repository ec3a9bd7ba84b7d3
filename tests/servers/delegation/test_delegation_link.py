"""The delegation link over real mutual TLS on loopback: who may say what to whom."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from servers.delegation.engine import Delegation, Refused
from servers.delegation.link import DELEGATION_PATH, Verdict, link_app, send
from servers.delegation.messages import (MEDIA_TYPE, DelInfo, DelType, Message, Notif, Res,
                                         encode)
from servers.pki import Issued, LabCA, client_context, server_context

SENT = datetime.datetime(2026, 11, 25, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LabCA:
    lab = LabCA.create(tmp_path_factory.mktemp("pki"))
    for server_id in ("dms1", "dms2", "dms3"):
        lab.issue(server_id)
    return lab


def issued(ca: LabCA, server_id: str) -> Issued:
    return Issued(server_id, ca.directory / f"{server_id}.pem", ca.directory / f"{server_id}.key")


def notif() -> Message:
    return Message("d-0123456789", "dms1", "dms2", 1,
                   Notif("dms1", DelInfo("IMEI:1", ("./Vendor/DMLab",)), DelType.FULL, 1), SENT)


async def with_dms2(ca: LabCA, body) -> None:  # type: ignore[no-untyped-def]
    """dms2's delegation endpoint, feeding a Delegation as DMS-2; `body(url, state)`."""
    state: dict[str, object] = {}

    async def sink(message: Message) -> Verdict:
        engine = state.get("engine")
        if engine is None:
            engine, events = Delegation.respond(message, "dms2", dmacc="<MgmtTree/>")
            state["engine"] = engine
        else:
            events = engine.receive(message)  # type: ignore[union-attr]
        refused = [e for e in events if isinstance(e, Refused)]
        state.setdefault("reached", []).append(message.kind.value)  # type: ignore[union-attr]
        return Verdict(False, refused[0].reason) if refused else Verdict(True)

    tls = server_context(issued(ca, "dms2"), client_ca=ca.ca_file)
    runner = web.AppRunner(link_app("dms2", sink), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}{DELEGATION_PATH}"
    try:
        async with aiohttp.ClientSession() as http:
            await body(http, url, state)
    finally:
        await runner.cleanup()


def test_the_peer_is_heard_and_strangers_are_refused(ca: LabCA) -> None:
    async def body(http, url, state) -> None:  # type: ignore[no-untyped-def]
        as_dms1 = client_context(ca.ca_file, issued(ca, "dms1"))
        taken = await send(http, url, notif(), as_dms1)
        assert taken.status == 200, taken.text
        engine = state["engine"]
        before = (engine.position, engine.seen, engine.status)
        # A third server with a valid certificate, not party to the delegation.
        as_dms3 = client_context(ca.ca_file, issued(ca, "dms3"))
        stranger = Message("d-0123456789", "dms3", "dms2", 5, Res(True), SENT)
        answer = await send(http, url, stranger, as_dms3)
        assert answer.status == 409 and "not for this pair" in answer.text
        # dms3 claiming to be dms1: the certificate says otherwise.
        forged = Message("d-0123456789", "dms1", "dms2", 6, Res(True), SENT)
        answer = await send(http, url, forged, as_dms3)
        assert answer.status == 403 and "certificate says dms3" in answer.text
        # A replay of what dms1 already sent.
        answer = await send(http, url, notif(), as_dms1)
        assert answer.status == 409 and "replay" in answer.text
        # Off the schema.
        bad = encode(notif()).replace(b"<Method>1</Method>", b"<Method>9</Method>")
        async with http.post(url, data=bad, ssl=as_dms1,
                             headers={"Content-Type": MEDIA_TYPE}) as response:
            assert response.status == 400 and "schema" in await response.text()
        async with http.post(url, data=encode(notif()), ssl=as_dms1,
                             headers={"Content-Type": "text/xml"}) as response:
            assert response.status == 415
        assert (engine.position, engine.seen, engine.status) == before
        assert state["reached"] == ["DELEGATION_NOTIF", "DELEGATION_RES", "DELEGATION_NOTIF"]

    asyncio.run(with_dms2(ca, body))


def test_no_client_certificate_no_link(ca: LabCA) -> None:
    async def body(http, url, state) -> None:  # type: ignore[no-untyped-def]
        answer = await send(http, url, notif(), client_context(ca.ca_file))
        assert answer.status == 0  # the TLS handshake itself is refused
        assert "engine" not in state

    asyncio.run(with_dms2(ca, body))


def test_an_untrusted_server_is_not_talked_to(ca: LabCA, tmp_path: Path) -> None:
    other = LabCA.create(tmp_path / "other")

    async def body(http, url, state) -> None:  # type: ignore[no-untyped-def]
        answer = await send(http, url, notif(),
                            client_context(other.ca_file, other.issue("dms1")))
        assert answer.status == 0 and "certificate" in answer.text.lower()
        assert "engine" not in state

    asyncio.run(with_dms2(ca, body))


