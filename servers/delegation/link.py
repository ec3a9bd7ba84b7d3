"""The server-to-server link: one delegation message per HTTPS POST, mutual TLS.

Both ends show a certificate from the lab CA (servers.pki), and each certificate names
its server's ServerID. A message is taken only if it is well-formed and valid against
the schema, and only if its Sender is the server whose certificate the TLS connection
authenticated; anything else is refused before any delegation sees it.

    200  taken
    400  not well-formed, or fails the schema
    403  no usable client certificate, or a Sender other than the authenticated peer
    409  refused by the delegation (not for this pair, unknown delegation, a replay)
    415  not application/vnd.dm.delegation+xml
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Awaitable, Callable

import aiohttp
from aiohttp import web
from cryptography import x509

from servers.delegation.messages import MAX_MESSAGE, MEDIA_TYPE, Message, MessageError, decode, encode
from servers.pki import server_id_of

DELEGATION_PATH = "/delegation"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the delegation made of a message: taken, or refused and why."""

    taken: bool
    reason: str = ""


Sink = Callable[[Message], Awaitable[Verdict]]
SINK_KEY = web.AppKey("sink", object)
SERVER_ID_KEY = web.AppKey("server_id", str)


def peer_server_id(request: web.Request) -> str | None:
    """The ServerID the peer's (verified) client certificate names, or None."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return server_id_of(x509.load_der_x509_certificate(der))


async def _take(request: web.Request) -> web.Response:
    sender = peer_server_id(request)
    if sender is None:
        return web.Response(status=403, text="a client certificate naming a ServerID is "
                                             "required on the delegation link")
    if request.content_type != MEDIA_TYPE:
        return web.Response(status=415, text=f"expected {MEDIA_TYPE}")
    try:
        message = decode(await request.read())
    except MessageError as exc:
        return web.Response(status=400, text=str(exc))
    if message.sender != sender:
        return web.Response(status=403, text=f"the message says it is from "
                                             f"{message.sender}, the certificate says {sender}")
    if message.receiver != request.app[SERVER_ID_KEY]:
        return web.Response(status=403, text=f"the message is for {message.receiver}, "
                                             f"this is {request.app[SERVER_ID_KEY]}")
    verdict = await request.app[SINK_KEY](message)  # type: ignore[operator]
    if not verdict.taken:
        return web.Response(status=409, text=verdict.reason)
    return web.Response(status=200, text="taken")


def link_app(server_id: str, sink: Sink) -> web.Application:
    """The delegation endpoint of server `server_id`; messages that pass go to `sink`."""
    app = web.Application(client_max_size=MAX_MESSAGE + 1)
    app[SINK_KEY] = sink
    app[SERVER_ID_KEY] = server_id
    app.router.add_post(DELEGATION_PATH, _take)
    return app


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a POST to the peer went: `status` 0 when nothing came back at all."""

    status: int
    text: str

    @property
    def taken(self) -> bool:
        return self.status == 200


async def send(http: aiohttp.ClientSession, url: str, message: Message,
               tls: ssl.SSLContext, timeout: float = 10.0) -> Delivery:
    """POST one message to a peer's delegation endpoint; never raises for the network."""
    try:
        async with http.post(url, data=encode(message), ssl=tls,
                             headers={"Content-Type": MEDIA_TYPE},
                             timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            return Delivery(response.status, (await response.text())[:500])
    except (aiohttp.ClientError, TimeoutError, OSError, ssl.SSLError) as exc:
        return Delivery(0, f"{url}: {exc or type(exc).__name__}")
