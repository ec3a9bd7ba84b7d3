"""aiohttp around the bootstrap server: the device endpoint and a loopback-only admin API.

    POST <path of url>        devid=…                      → 200 the signed bootstrap, or
                                                             4xx text/plain: why not
                              devid=…&outcome=…&reason=…   → 204 (the device's report)
    POST /admin/bootstraps    a registration (JSON)        → 201 what is held
    GET  /admin/bootstraps[?dev_id=…]                      → the bootstraps, newest last
    DELETE /admin/bootstraps?dev_id=…                      → takes back what is held
    GET  /admin/log[?dev_id=…]                             → the log, oldest first

The core decides everything; this module only turns requests into its calls.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from typing import Callable

from aiohttp import web

from servers.bootstrap.config import BootstrapConfig
from servers.bootstrap.core import (BootstrapServer, Refused, RegistrationError,
                                    parse_registration)
from servers.bootstrap.store import BootstrapStore
# The DM server's JSON answers and loopback rule, shared.
from servers.http import error_response as error, json_response as json_answer, loopback_only

log = logging.getLogger("dmlab.bootstrap.server")

SERVER_KEY = web.AppKey("bootstrap_server", BootstrapServer)
#: A device request is a short form; a registration a small JSON object.
MAX_REQUEST = 64 * 1024


async def _device(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    form = await request.post()
    dev_id, peer = str(form.get("devid", "")), request.remote or ""
    if "outcome" in form:
        server.report(dev_id, str(form["outcome"]), str(form.get("reason", "")), peer)
        return web.Response(status=204)
    answer = server.request(dev_id, peer)
    if isinstance(answer, Refused):
        log.info("%s asked for %s: %s", peer, dev_id or "(no devid)", answer.reason)
        return web.Response(status=answer.status, text=answer.reason + "\n")
    log.info("%s: served the bootstrap for %s", peer, dev_id)
    return web.Response(body=answer.body, headers={"Content-Type": answer.content_type})


async def _register(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    try:
        registration = parse_registration(await request.json())
        held = server.register(registration, peer=request.remote or "")
    except json.JSONDecodeError as exc:
        return error(400, f"the body is not JSON: {exc}")
    except RegistrationError as exc:
        return error(400, str(exc))
    return json_answer({"bootstrap": held.record, "user_code": held.user_code,
                        "superseded": list(held.superseded)}, status=201)


async def _withdraw(request: web.Request) -> web.Response:
    dev_id = request.query.get("dev_id", "")
    if not dev_id:
        return error(400, "name the device: ?dev_id=…")
    return json_answer({"withdrawn": request.app[SERVER_KEY].withdraw(dev_id,
                                                                      request.remote or "")})


async def _bootstraps(request: web.Request) -> web.Response:
    return json_answer(request.app[SERVER_KEY].bootstraps(request.query.get("dev_id")))


async def _log(request: web.Request) -> web.Response:
    return json_answer(request.app[SERVER_KEY].log(request.query.get("dev_id")))


def bootstrap_app(server: BootstrapServer, path: str) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST, middlewares=[loopback_only])
    app[SERVER_KEY] = server
    app.router.add_post(path, _device)
    app.router.add_post("/admin/bootstraps", _register)
    app.router.add_get("/admin/bootstraps", _bootstraps)
    app.router.add_delete("/admin/bootstraps", _withdraw)
    app.router.add_get("/admin/log", _log)
    return app


def server_ssl(config: BootstrapConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


async def start_bootstrap(config: BootstrapConfig, *,
                          clock: Callable[[], float] = time.time) -> tuple[web.AppRunner, int]:
    """Start the bootstrap server over HTTPS; returns the runner (its cleanup also closes
    the database) and the bound port. The core is `runner.app[SERVER_KEY]`."""
    tls = server_ssl(config)
    store = BootstrapStore(config.database)
    app = bootstrap_app(BootstrapServer(store, url=config.url, clock=clock), config.path)

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = config.address
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]
