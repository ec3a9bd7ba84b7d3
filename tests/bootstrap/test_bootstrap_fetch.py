"""The fetcher against the bootstrap server over real HTTPS on loopback.

Every refusal leaves the tree as it was, except the State leaf, which says why; the
server's log says what it did and, once the handset has judged what it was served,
the handset's verdict.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from bootstrap_support import (DEV_ID, IMSI, OTHER_DEV_ID, PIN, SOURCE, Clock, Pki,
                               handset_tree, make_pki, registration, registration_json,
                               serving, snapshot, state)

from dmclient.bootstrap import DM_WBXML, SecType, Secrets, build_message, fetch_bootstrap, sign
from dmclient.tree.accounts import find_account
from servers.bootstrap import BootstrapConfig, BootstrapServer, start_bootstrap

HANDSET = Secrets(imsi=IMSI, pin=PIN)
Middleware = Callable[[web.Request, Callable[[web.Request], Awaitable[web.StreamResponse]]],
                      Awaitable[web.StreamResponse]]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("trusted"))


@pytest.fixture(scope="module")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA the handset does not trust."""
    return make_pki(tmp_path_factory.mktemp("rogue"))


async def fetch(tree, url: str | None, pki: Pki):  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        return await fetch_bootstrap(tree, url, http=http, secrets=HANDSET,
                                     ssl_context=pki.trust(), timeout=10)


def test_fetch_verifies_and_installs_then_reports(pki: Pki, tmp_path: Path) -> None:
    """The whole path as a DM server would drive it: admin API, then the handset."""
    async def scenario() -> None:
        config = BootstrapConfig(url="https://127.0.0.1/bootstrap", listen="127.0.0.1:0",
                                 tls_cert=str(pki.issued.cert), tls_key=str(pki.issued.key),
                                 database=str(tmp_path / "bootstrap.sqlite"))
        runner, port = await start_bootstrap(config)
        base = f"https://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/admin/bootstraps", json=registration_json(),
                                     ssl=pki.trust()) as response:
                    assert response.status == 201, await response.text()
                    held = await response.json()
                assert held["bootstrap"]["dev_id"] == DEV_ID and held["user_code"] is None
            tree = handset_tree(f"{base}/bootstrap")
            result = await fetch(tree, None, pki)
            assert result.installed and result.server_ids == ("dms2",), result.state
            assert state(tree) == "installed"
            account = find_account(tree, "dms2")
            assert account is not None and account.addr == "https://127.0.0.1:8445/dm"
            assert account.client_credential.secret == "handset-secret-2"
            assert account.server_credential.data == b"server-nonce-2"
            assert tree.node("./DMAcc/dms2").acl == "Add=dms2&Delete=dms2&Get=dms2&Replace=dms2"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/admin/log", ssl=pki.trust()) as response:
                    entries = await response.json()
            assert [(e["event"], e["outcome"], e["peer"]) for e in entries] == [
                ("register", "registered", "127.0.0.1"), ("request", "served", "127.0.0.1"),
                ("report", "installed", "127.0.0.1")]
            assert all(e["dev_id"] == DEV_ID for e in entries)
        finally:
            await runner.cleanup()
    asyncio.run(scenario())


def tamper(change: Callable[[bytes, str], tuple[bytes, str]]) -> Middleware:
    """Serve something else than the server built (a broken or hostile server)."""
    @web.middleware
    async def middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
        response = await handler(request)
        if response.status != 200:
            return response
        body, content_type = change(response.body, response.headers["Content-Type"])
        return web.Response(body=body, headers={"Content-Type": content_type})
    return middleware


@web.middleware
async def cut_in_transit(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Announce the whole body, send half of it, drop the connection."""
    response = await handler(request)
    if response.status != 200:
        return response
    body = response.body
    cut = web.StreamResponse(headers={"Content-Type": response.headers["Content-Type"]})
    cut.content_length = len(body)
    await cut.prepare(request)
    await cut.write(body[:len(body) // 2])
    assert request.transport is not None
    request.transport.close()
    return cut


def other_mac(body: bytes, content_type: str) -> tuple[bytes, str]:
    return body, re.sub(r"MAC=(\w+)", lambda m: "MAC=" + m[1][::-1], content_type)


def halved(body: bytes, content_type: str) -> tuple[bytes, str]:
    return body[:len(body) // 2], content_type


def readdressed(body: bytes, content_type: str) -> tuple[bytes, str]:
    """A correctly signed bootstrap, but for another device."""
    other = build_message(registration().account, dev_id=OTHER_DEV_ID, source=SOURCE)
    return other, str(sign(other, DM_WBXML, SecType.USERPIN, Secrets(pin=PIN)).content_type)


REFUSALS = {
    "wrong MAC": (tamper(other_mac), registration(secrets=Secrets(pin=PIN)),
                  "MAC mismatch (SEC=USERPIN)", ("report", "failed")),
    "wrong SEC key: PIN": (None, registration(secrets=Secrets(pin="9999")),
                           "MAC mismatch (SEC=USERPIN)", ("report", "failed")),
    "wrong SEC key: IMSI": (None, registration(sec=SecType.NETWPIN,
                                               secrets=Secrets(imsi="310150123456789")),
                            "MAC mismatch (SEC=NETWPIN)", ("report", "failed")),
    "truncated body": (tamper(halved), registration(secrets=Secrets(pin=PIN)),
                       "MAC mismatch (SEC=USERPIN)", ("report", "failed")),
    "body cut in transit": (cut_in_transit, registration(secrets=Secrets(pin=PIN)),
                            "was cut off", ("request", "served")),
    "bootstrap held for another DevId": (
        None, registration(dev_id=OTHER_DEV_ID, secrets=Secrets(pin=PIN)),
        f"answered HTTP 404: no bootstrap is held for {DEV_ID}", ("request", "no_bootstrap")),
    "bootstrap addressed to another DevId": (
        tamper(readdressed), registration(secrets=Secrets(pin=PIN)),
        f"the bootstrap is addressed to {OTHER_DEV_ID}, and this handset is {DEV_ID}",
        ("report", "failed")),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_with_the_tree_unchanged_and_the_reason_shown(pki: Pki, case: str) -> None:
    middleware, held, reason, last_logged = REFUSALS[case]

    async def scenario() -> None:
        async with serving(pki, middlewares=(middleware,) if middleware else ()) as running:
            running.server.register(held)
            tree = handset_tree(running.url)
            before = snapshot(tree)
            result = await fetch(tree, None, pki)
            assert not result.installed
            assert snapshot(tree) == before
            assert state(tree).startswith("failed: ") and reason in state(tree), state(tree)
            assert reason in result.reason
            assert running.outcomes()[-1] == last_logged
            if last_logged[0] == "report":
                assert reason in running.server.log()[-1].detail
    asyncio.run(scenario())


def test_plain_http_is_refused_before_any_request(pki: Pki) -> None:
    async def scenario() -> None:
        async with serving(pki) as running:
            running.server.register(registration(secrets=Secrets(pin=PIN)))
            url = running.url.replace("https://", "http://")
            tree = handset_tree(url)
            before = snapshot(tree)
            result = await fetch(tree, None, pki)
            assert snapshot(tree) == before
            assert state(tree) == f"failed: refusing {url}: a bootstrap is fetched over HTTPS only"
            assert result.reason == state(tree).removeprefix("failed: ")
            assert running.outcomes() == [("register", "registered")]
    asyncio.run(scenario())


def test_an_untrusted_certificate_is_refused(pki: Pki, rogue_pki: Pki) -> None:
    async def scenario() -> None:
        async with serving(rogue_pki) as running:
            running.server.register(registration(secrets=Secrets(pin=PIN)))
            tree = handset_tree(running.url)
            before = snapshot(tree)
            await fetch(tree, None, pki)
            assert snapshot(tree) == before
            assert state(tree).startswith(f"failed: TLS: the certificate of {running.url} "
                                          "is not trusted: "), state(tree)
            # Nothing was served: the handshake failed before any request.
            assert running.outcomes() == [("register", "registered")]
            assert running.server.bootstraps()[0].served_count == 0
    asyncio.run(scenario())


def test_served_once_and_until_it_expires(pki: Pki) -> None:
    async def scenario() -> None:
        clock = Clock()
        async with serving(pki, clock=clock) as running:
            server: BootstrapServer = running.server
            server.register(registration(secrets=Secrets(pin=PIN)))
            assert (await fetch(handset_tree(), running.url, pki)).installed
            second = handset_tree()
            result = await fetch(second, running.url, pki)
            assert "answered HTTP 410" in result.reason and "is served once" in result.reason
            assert find_account(second, "dms2") is None

            server.register(registration(secrets=Secrets(pin=PIN), once=False, expires_in=60))
            assert (await fetch(handset_tree(), running.url, pki)).installed
            assert (await fetch(handset_tree(), running.url, pki)).installed
            clock.now += 60
            late = handset_tree()
            result = await fetch(late, running.url, pki)
            assert "answered HTTP 410" in result.reason and "expired at" in result.reason
            assert state(late) == f"failed: {result.reason}"
            assert [o for e, o in running.outcomes() if e == "request"] == [
                "served", "already_served", "served", "served", "expired"]
    asyncio.run(scenario())


def test_bad_requests_and_registrations_say_why(pki: Pki) -> None:
    async def scenario() -> None:
        async with serving(pki) as running:
            base = running.url.removesuffix("/bootstrap")
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/admin/bootstraps", data=b"{",
                                     ssl=pki.trust()) as response:
                    assert response.status == 400
                    assert "not JSON" in (await response.json())["error"]
                async with http.post(f"{base}/admin/bootstraps",
                                     json=registration_json(sec="NETWPIN"),
                                     ssl=pki.trust()) as response:
                    assert response.status == 400
                    assert (await response.json())["error"] == \
                        "SEC=NETWPIN needs the IMSI, and none is set"
                async with http.post(running.url, data={}, ssl=pki.trust()) as response:
                    assert response.status == 400
                    assert await response.text() == "the request names no devid\n"
    asyncio.run(scenario())
