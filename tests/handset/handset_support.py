"""Real servers on loopback for the handset tests, and a way to run `dmlab` beside them.

- SpecHttpServer: tests/session/spec_server (a DM server written only from the spec, on
  bare lxml) behind aiohttp, one SpecServer per SessionID, carrying nonces from one
  session to the next as a real server would;
- a lab CA (servers.pki) and a server certificate for 127.0.0.1;
- servers that misbehave: 50 MB answers, HTTP 500, dropped connections, silence.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web
from lxml import etree

from dmclient.tree import Tree, TreeStore
from servers.pki import LabCA, server_context
from tests.session.spec_server import SpecServer

XML = "application/vnd.syncml.dm+xml"
ADDR = "./DMAcc/dms1/AppAddr/1/Addr"
PORT = "./DMAcc/dms1/AppAddr/1/Port/1/PortNbr"
SUPPRESS = "./DMAcc/dms1/Ext/SuppressSession"
SRVCRED_NONCE = "./DMAcc/dms1/AppAuth/ServerSide/AAuthData"
GREETING = "./Vendor/DMLab/Settings/Greeting"


@dataclass
class SpecHttpServer:
    """The spec-only DM server over HTTP: POST /dm. `commands` go to the next session."""

    commands: list[tuple] = field(default_factory=list)
    server_secret: str = "dms1-secret"
    server_nonce: bytes = b"server-nonce-1"
    client_nonce: bytes = b"client-nonce-1"
    url: str = ""
    sessions: dict[str, SpecServer] = field(default_factory=dict)
    requests: list[bytes] = field(default_factory=list)
    request_seen: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/dm", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(body)
        self.request_seen.set()
        session_id = etree.fromstring(body).findtext("{*}SyncHdr/{*}SessionID")
        server = self.sessions.get(session_id)
        if server is None:
            server = self.sessions[session_id] = SpecServer(
                url=self.url, client_user="IMEI:358240051111110",
                client_secret="handset-secret", client_nonce=self.client_nonce,
                server_user="dms1", server_secret=self.server_secret,
                server_nonce=self.server_nonce, commands=self.commands)
            self.commands = []  # a queued job goes to one session
        answer = server.handle(body)
        self.client_nonce = server.client_nonce
        self.server_nonce = _handset_next_nonce(body) or self.server_nonce
        return web.Response(body=answer, content_type=XML)


def _handset_next_nonce(body: bytes) -> bytes | None:
    """The NextNonce the handset put in its Status for our header: our next Cred's nonce."""
    found = etree.fromstring(body).xpath(
        "//*[local-name()='Status'][*[local-name()='Cmd']='SyncHdr']"
        "//*[local-name()='NextNonce']/text()")
    return base64.b64decode(found[0]) if found else None


def first_request_of(server: SpecHttpServer, session_id: str) -> etree._Element:
    return next(root for root in map(etree.fromstring, server.requests)
                if root.findtext("{*}SyncHdr/{*}SessionID") == session_id)


def alert_codes(message: etree._Element) -> list[str]:
    return [a.findtext("{*}Data") for a in message.iterfind("{*}SyncBody/{*}Alert")]


@asynccontextmanager
async def serving(app: web.Application, tls: ssl.SSLContext | None = None,
                  path: str = "/dm") -> AsyncIterator[str]:
    """Run `app` on a free loopback port; yields the URL of `path`."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}{path}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(on_connection: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                             Awaitable[None]]) -> AsyncIterator[str]:
    """A TCP server that does whatever `on_connection` does, HTTP or not."""
    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/dm"
    finally:
        server.close()


def point_at(tree: Tree, url: str) -> None:
    """Aim the handset's dms1 account at `url` (device authority)."""
    tree.replace(ADDR, None, value=url)
    tree.replace(PORT, None, value=str(int(url.split(":")[2].split("/")[0])))


def point_store_at(store: Path, url: str) -> None:
    with TreeStore(store) as s:
        point_at(s.open_handset(), url)


async def dmlab(*args: str) -> tuple[int, str, str]:
    """`dmlab ARGS` as a user runs it, while this process's event loop serves."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dmclient.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------------- a lab CA


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    server_tls: ssl.SSLContext


def make_pki(directory: Path) -> Pki:
    """A lab CA and a certificate for 127.0.0.1 it signed; the server's TLS context."""
    ca = LabCA.create(directory)
    return Pki(ca.ca_file, server_context(ca.issue("dms1")))
