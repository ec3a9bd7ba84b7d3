"""aiohttp around the sans-I/O servers: the DM endpoint, the admin API, package-0 pushes.

The engines decide everything; this module only moves bytes: a POST body into
`DMServer.handle` and its Reply back out, a queued job's package 0 out to the device.
The admin API answers only peers on loopback: it changes what devices will be told.
A server that delegates also takes delegations there, carried out by its delegation
service (servers.delegation.service, which imports this module: duck-typed here).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import json
import logging
import ssl
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from servers.dm import DMServer, JobError, Notify, ServerConfig, UnknownDevice, UnknownJob
from servers.dm import parse_job
from servers.delegation.messages import DelType
from servers.delegation.methods import METHODS
from servers.dm.server import MAX_MESSAGE

log = logging.getLogger("dmlab.server")

SERVER_KEY = web.AppKey("server", DMServer)
HTTP_KEY = web.AppKey("http", ClientSession)
DELEGATIONS_KEY = web.AppKey("delegations", object)  # a DelegationService
EXPIRE_EVERY = 5.0


def to_json(value: Any) -> Any:
    """Records as JSON values: dataclasses as objects, enums by value, bytes as b64."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.json_response(to_json(value), status=status, dumps=lambda v: json.dumps(v, indent=1))


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# ------------------------------------------------------------------ the DM endpoint

async def _dm(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    body = await request.read()
    reply = server.handle(body, content_type=request.headers.get("Content-Type", ""),
                          headers=dict(request.headers))
    if reply.reason and reply.http_status != 200:
        log.warning("%s: %s", request.remote, reply.reason)
    headers = dict(reply.headers)
    if reply.body:
        headers["Content-Type"] = reply.content_type
    return web.Response(status=reply.http_status, body=reply.body, headers=headers)


# ------------------------------------------------------------------ the admin API

@web.middleware
async def loopback_only(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/admin"):
        try:
            peer = ipaddress.ip_address((request.remote or "").split("%")[0])
        except ValueError:
            peer = None
        if peer is None or not peer.is_loopback:
            return error_response(403, "the admin API answers loopback peers only")
    return await handler(request)


async def _queue(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    try:
        payload = await request.json()
        device = payload["device"]
        job = parse_job(json.dumps(payload["job"]).encode())
    except (ValueError, KeyError, TypeError) as exc:
        return error_response(400, f"bad job request: {exc}")
    except JobError as exc:
        return error_response(400, str(exc))
    try:
        queued = server.queue_job(device, job)
    except UnknownDevice:
        return error_response(404, f"no device {device!r}")
    pushed = await push(request.app[HTTP_KEY], queued.notification)
    return json_response({"job_id": queued.job_id, "notified": pushed is None and
                  queued.notification is not None, "notify_error": pushed})


async def _job(request: web.Request) -> web.Response:
    try:
        return json_response(request.app[SERVER_KEY].job(request.match_info["job_id"]))
    except UnknownJob:
        return error_response(404, f"no job {request.match_info['job_id']!r}")


async def _jobs(request: web.Request) -> web.Response:
    return json_response(request.app[SERVER_KEY].jobs(request.query.get("device")))


async def _sessions(request: web.Request) -> web.Response:
    return json_response(request.app[SERVER_KEY].sessions(request.query.get("device")))


async def _devices(request: web.Request) -> web.Response:
    return json_response(request.app[SERVER_KEY].devices())


async def _alerts(request: web.Request) -> web.Response:
    return json_response(request.app[SERVER_KEY].generic_alerts(request.query.get("device")))


async def _notify(request: web.Request) -> web.Response:
    device = request.match_info["device"]
    try:
        notification = request.app[SERVER_KEY].notify(device)
    except UnknownDevice:
        return error_response(404, f"no device {device!r}")
    if notification is None:
        return error_response(409, f"device {device!r} has no notify_url")
    error = await push(request.app[HTTP_KEY], notification)
    return json_response({"notified": error is None, "notify_error": error})


async def _delegate(request: web.Request) -> web.Response:
    """Start a delegation: {"device", "peer", "method", "type", "paths",
    "notification_address"} -> 201 {"delegation_id"}."""
    try:
        payload = await request.json()
        device, peer, method = str(payload["device"]), str(payload["peer"]), payload["method"]
        del_type = DelType(str(payload["type"]).capitalize())
        paths = tuple(str(p) for p in payload.get("paths") or ())
        notification_address = payload.get("notification_address")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return error_response(400, f"bad delegation request: {exc}")
    if not isinstance(method, int) or method not in METHODS:
        return error_response(400, f"method {method!r} is not one of 1, 2, 3, 4")
    if del_type is DelType.PARTIAL and not paths:
        return error_response(400, "a partial delegation needs the paths it delegates")
    paths = paths or (".",)  # a full delegation: the whole tree
    try:
        delegation_id = await request.app[DELEGATIONS_KEY].start(  # type: ignore[attr-defined]
            device, peer, method, del_type, paths, notification_address=notification_address)
    except ValueError as exc:
        return error_response(409, str(exc))
    return json_response({"delegation_id": delegation_id}, status=201)


async def _delegation(request: web.Request) -> web.Response:
    delegation_id = request.match_info["delegation_id"]
    outcome = request.app[DELEGATIONS_KEY].outcomes.get(delegation_id)  # type: ignore[attr-defined]
    if outcome is None:
        return error_response(404, f"no delegation {delegation_id!r}")
    return json_response(outcome.to_json())


async def _delegations(request: web.Request) -> web.Response:
    outcomes = request.app[DELEGATIONS_KEY].outcomes.values()  # type: ignore[attr-defined]
    return json_response([outcome.to_json() for outcome in outcomes])


async def _no_delegations(request: web.Request) -> web.Response:
    server_id = request.app[SERVER_KEY].config.server_id
    return error_response(404, f"{server_id} does not delegate: its configuration has no "
                               "[delegation]")


async def push(http: ClientSession, notification: Notify | None) -> str | None:
    """POST a package 0 to the device; None when delivered, else why not."""
    if notification is None:
        return None
    try:
        async with http.post(notification.url, data=notification.body,
                             headers={"Content-Type": notification.content_type}) as response:
            if response.status >= 300:
                return f"{notification.url} answered HTTP {response.status}"
    except (ClientError, asyncio.TimeoutError, OSError) as exc:
        return f"{notification.url}: {exc or type(exc).__name__}"
    return None


# ------------------------------------------------------------------ assembling

def dm_app(server: DMServer, delegations: object | None = None) -> web.Application:
    """The DM endpoint at the path of the configured URL, and /admin beside it; with a
    delegation service, /admin/delegations too."""
    app = web.Application(client_max_size=MAX_MESSAGE + 1, middlewares=[loopback_only])
    app[SERVER_KEY] = server
    path = urlsplit(server.config.url).path or "/"
    app.router.add_post(path, _dm)
    app.router.add_post("/admin/jobs", _queue)
    app.router.add_get("/admin/jobs", _jobs)
    app.router.add_get("/admin/jobs/{job_id}", _job)
    app.router.add_get("/admin/sessions", _sessions)
    app.router.add_get("/admin/devices", _devices)
    app.router.add_get("/admin/alerts", _alerts)
    app.router.add_post("/admin/devices/{device}/notify", _notify)
    if delegations is None:
        app.router.add_route("*", "/admin/delegations{rest:.*}", _no_delegations)
    else:
        app[DELEGATIONS_KEY] = delegations
        app.router.add_post("/admin/delegations", _delegate)
        app.router.add_get("/admin/delegations", _delegations)
        app.router.add_get("/admin/delegations/{delegation_id}", _delegation)
    app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application):  # type: ignore[no-untyped-def]
    app[HTTP_KEY] = ClientSession(timeout=ClientTimeout(total=10))

    async def expire() -> None:
        while True:
            await asyncio.sleep(EXPIRE_EVERY)
            app[SERVER_KEY].expire_sessions()

    task = asyncio.create_task(expire())
    yield
    task.cancel()
    await app[HTTP_KEY].close()


def server_ssl(config: ServerConfig) -> ssl.SSLContext | None:
    if not config.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


def listen_address(listen: str) -> tuple[str, int]:
    """HOST:PORT (the host may be in brackets, or empty for 127.0.0.1)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def start_dm(server: DMServer,
                   delegations: object | None = None) -> tuple[web.AppRunner, int]:
    """Start the DM endpoint (and, given a delegation service, its admin API); returns
    the runner (for cleanup) and the bound port."""
    runner = web.AppRunner(dm_app(server, delegations), access_log=None)
    await runner.setup()
    host, port = listen_address(server.config.listen)
    site = web.TCPSite(runner, host, port, ssl_context=server_ssl(server.config))
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, bound
