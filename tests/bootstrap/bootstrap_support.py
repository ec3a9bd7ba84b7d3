"""Real parts for the bootstrap tests: a lab CA (servers.pki), the bootstrap
server on loopback over HTTPS, the lab handset's tree, and the account dms1 hands over.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from dmclient.bootstrap import STATE, URL, AccountSpec, AppAuth, ensure_bootstrap_mo
from dmclient.tree import Node, Tree, load_profile
from servers.bootstrap import (BootstrapServer, BootstrapStore, Registration, bootstrap_app)
from servers.pki import Issued, LabCA, server_context

DEV_ID = "IMEI:358240051111110"
OTHER_DEV_ID = "IMEI:490154203237518"
IMSI = "234150123456789"
PIN = "1234"
PATH = "/bootstrap"
SOURCE = "https://127.0.0.1/bootstrap"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def dms2_account(**changes: object) -> AccountSpec:
    """The account dms1 hands the handset over to (the lab's delegated server)."""
    fields: dict[str, object] = dict(
        server_id="dms2", addr="https://127.0.0.1:8445/dm", name="DMLab delegated server",
        port=8445, auth_pref="DIGEST",
        app_auth=(AppAuth(level="CLCRED", type="DIGEST", name=DEV_ID, secret="handset-secret-2",
                          nonce=b"client-nonce-2"),
                  AppAuth(level="SRVCRED", type="DIGEST", name="dms2", secret="dms2-secret",
                          nonce=b"server-nonce-2")))
    fields.update(changes)
    return AccountSpec(**fields)  # type: ignore[arg-type]


def registration(**changes: object) -> Registration:
    fields: dict[str, object] = dict(dev_id=DEV_ID, account=dms2_account())
    fields.update(changes)
    return Registration(**fields)  # type: ignore[arg-type]


def registration_json(**changes: object) -> dict[str, object]:
    """The same registration as the admin API takes it."""
    document: dict[str, object] = {
        "dev_id": DEV_ID, "sec": "USERPIN", "pin": PIN, "once": True, "profile": "dm",
        "account": {
            "server_id": "dms2", "addr": "https://127.0.0.1:8445/dm",
            "name": "DMLab delegated server", "port": 8445, "auth_pref": "DIGEST",
            "app_auth": [
                {"level": "CLCRED", "type": "DIGEST", "name": DEV_ID,
                 "secret": "handset-secret-2", "nonce": b64(b"client-nonce-2")},
                {"level": "SRVCRED", "type": "DIGEST", "name": "dms2",
                 "secret": "dms2-secret", "nonce": b64(b"server-nonce-2")}]}}
    document.update(changes)
    return document


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def handset_tree(url: str = "") -> Tree:
    """The default profile with the Bootstrap MO, and its URL set as dms1 would set it."""
    tree = Tree(load_profile("default"), clock=lambda: 1_700_000_000.0)
    ensure_bootstrap_mo(tree)
    if url:
        assert tree.replace(URL, "dms1", value=url).ok
    return tree


def snapshot(tree: Tree) -> dict[str, Node]:
    """Every node but the State leaf, which is where a refusal is reported."""
    return {path: node for path, node in tree.walk() if path != STATE}


def state(tree: Tree) -> str:
    return str(tree.get(STATE).value)


# ---------------------------------------------------------------------- PKI

@dataclass(frozen=True)
class Pki:
    ca_file: Path
    issued: Issued

    def server_tls(self) -> ssl.SSLContext:
        return server_context(self.issued)

    def trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_pki(directory: Path) -> Pki:
    """A lab CA, and the bootstrap server's certificate for 127.0.0.1."""
    ca = LabCA.create(directory)
    return Pki(ca.ca_file, ca.issue("bootstrap"))


# ---------------------------------------------------------------------- a server on loopback

@dataclass
class Running:
    server: BootstrapServer
    port: int

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{PATH}"

    def outcomes(self) -> list[tuple[str, str]]:
        return [(r.event, r.outcome) for r in self.server.log()]


@asynccontextmanager
async def serving(pki: Pki, *, clock: Clock | None = None,
                  middlewares: tuple = ()) -> AsyncIterator[Running]:
    """The bootstrap app over HTTPS on a free loopback port; `middlewares` may tamper."""
    server = BootstrapServer(BootstrapStore(), url=SOURCE, clock=clock or Clock())
    app = bootstrap_app(server, PATH)
    app.middlewares.extend(middlewares)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.server_tls()).start()
        yield Running(server, runner.addresses[0][1])
    finally:
        await runner.cleanup()
        server.store.close()
