"""`dmlab server dm` runs a reference DM server; `dmlab job …` talks to its admin API."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import time
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import aiohttp
import click

from dmclient.cli.errors import UserError
from servers.bootstrap import load_bootstrap_config, start_bootstrap
from servers.delegation.service import BootstrapSite, DelegationService
from servers.delegation.store import DelegationStore
from servers.dm import (ConfigError, DMServer, JobError, Registry, ServerConfig, load_config,
                        parse_job)
from servers.http import start_dm
from servers.lab import describe, start_link
from servers.pki import Issued, client_context


@click.group()
def server() -> None:
    """Run the reference servers."""


@server.command("dm")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              required=True, help="The server's TOML configuration.")
def server_dm(config_path: str) -> None:
    """Run a DM server until interrupted; state is kept in its SQLite database. With a
    [delegation] table, also its delegation link and /admin/delegations."""
    _run_server("the DM server", load_config, _serve, config_path)


def _run_server(what: str, load, serve, config_path: str) -> None:  # type: ignore[no-untyped-def]
    """Load a server's configuration and serve until interrupted; every failure a user
    can cause (a bad file, a busy port, unusable certificates) is one line."""
    try:
        config = load(config_path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        asyncio.run(serve(config))
    except (OSError, ssl.SSLError) as exc:
        raise UserError(f"cannot start {what}: {exc}") from None


async def _serve(config: ServerConfig) -> None:
    server = DMServer(config, Registry(config.database), clock=time.time)
    async with AsyncExitStack() as stack:
        stack.callback(server.registry.close)
        service = await _delegation_service(server, stack) if config.delegation else None
        runner, port = await start_dm(server, service)
        stack.push_async_callback(runner.cleanup)
        host = config.listen.rpartition(":")[0] or "127.0.0.1"
        click.echo(f"{config.server_id}: DM endpoint {config.url} "
                   f"(listening on {config.scheme}://{host}:{port}, admin API at /admin)",
                   err=True)
        if service is not None:
            assert config.delegation is not None
            link, url = await start_link(service, _issued(config), Path(config.delegation.ca),
                                         config.delegation.listen)
            stack.push_async_callback(link.cleanup)
            service.run()
            peers = ", ".join(service.peers) or "none"
            click.echo(f"{config.server_id}: delegation link {url} (peers: {peers})", err=True)
        await _until_signalled()


async def _delegation_service(server: DMServer, stack: AsyncExitStack) -> DelegationService:
    """The server's delegation service, as its [delegation] table says; closed with
    `stack`."""
    config = server.config
    delegation = config.delegation
    assert delegation is not None
    http = await stack.enter_async_context(aiohttp.ClientSession())
    store = DelegationStore(delegation.database)
    stack.callback(store.close)
    bootstrap = (BootstrapSite(delegation.bootstrap_url, delegation.bootstrap_admin,
                               delegation.bootstrap_pin)
                 if delegation.bootstrap_url and delegation.bootstrap_admin
                 and delegation.bootstrap_pin else None)
    service = DelegationService(
        server, http=http, tls=client_context(Path(delegation.ca), _issued(config)),
        peers=dict(delegation.peers), store=store, bootstrap=bootstrap,
        step_timeout=delegation.step_timeout,
        on_message=lambda message: click.echo(describe(message), err=True),
        say=lambda text: click.echo(text, err=True))
    stack.push_async_callback(service.close)
    return service


def _issued(config: ServerConfig) -> Issued:
    """The server's own certificate and key: its link's, both ways."""
    assert config.tls_cert and config.tls_key
    return Issued(config.server_id, Path(config.tls_cert), Path(config.tls_key))


@server.command("bootstrap")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              required=True, help="The bootstrap server's TOML configuration.")
def server_bootstrap(config_path: str) -> None:
    """Run the bootstrap server (HTTPS only) until interrupted; state in SQLite."""
    _run_server("the bootstrap server", load_bootstrap_config, _serve_bootstrap, config_path)


async def _serve_bootstrap(config) -> None:  # type: ignore[no-untyped-def]
    runner, port = await start_bootstrap(config)
    click.echo(f"bootstrap server: {config.url} (listening on port {port}, "
               "admin API at /admin)", err=True)
    await _until_signalled()
    await runner.cleanup()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@click.group()
def job() -> None:
    """Queue management jobs on a running DM server, and read their results."""


def admin_call(url: str, path: str, payload: dict | None = None,
               ca: str | None = None) -> object:
    """A request to a server's admin API (POST with a payload, else GET); its JSON answer,
    or a one-line UserError."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = Request(url.rstrip("/") + path, data=data,
                      headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=ca) if ca else None
    try:
        with urlopen(request, timeout=30, context=context) as response:
            return json.loads(response.read())
    except HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise UserError(f"{url}: {message}") from None
    except (URLError, OSError) as exc:
        raise UserError(f"cannot reach the admin API at {url}: "
                        f"{getattr(exc, 'reason', exc)}") from None


def _admin_options(command):  # type: ignore[no-untyped-def]
    command = click.option("--ca", type=click.Path(exists=True, dir_okay=False),
                           help="CA certificate to trust for an HTTPS admin URL.")(command)
    return click.option("--admin", "admin_url", default="http://127.0.0.1:8443",
                        show_default=True, help="The DM server's base URL (its admin API).")(
        command)


@job.command("queue")
@_admin_options
@click.option("--device", required=True, help="The DevId the job is for.")
@click.option("--wait", "wait_seconds", type=float, default=0,
              help="Wait up to this many seconds for the job to finish, and print it.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def queue(admin_url: str, ca: str | None, device: str, wait_seconds: float, file: str) -> None:
    """Queue the commands in FILE (JSON) for DEVICE; the server pushes a package 0."""
    with open(file, "rb") as fh:
        raw = fh.read()
    try:
        parse_job(raw)  # one clear line for a bad file, before anything is sent
    except JobError as exc:
        raise UserError(f"{file}: {exc}") from None
    answer = admin_call(admin_url, "/admin/jobs", {"device": device, "job": json.loads(raw)},
                        ca)
    assert isinstance(answer, dict)
    note = "device notified" if answer["notified"] else (
        f"not notified: {answer['notify_error']}" if answer["notify_error"]
        else "runs at the device's next session")
    click.echo(f"job {answer['job_id']} queued for {device} ({note})")
    if wait_seconds:
        deadline = time.monotonic() + wait_seconds
        while True:
            record = admin_call(admin_url, f"/admin/jobs/{answer['job_id']}", ca=ca)
            assert isinstance(record, dict)
            if record["state"] in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        _print_job(record)


@job.command("show")
@_admin_options
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@click.argument("job_id")
def show(admin_url: str, ca: str | None, as_json: bool, job_id: str) -> None:
    """Print a job's state and every command's status and results."""
    record = admin_call(admin_url, f"/admin/jobs/{job_id}", ca=ca)
    if as_json:
        click.echo(json.dumps(record, indent=1))
    else:
        assert isinstance(record, dict)
        _print_job(record)


def _print_job(record: dict) -> None:
    click.echo(f"job {record['job_id']}: {record['state']}")
    for command in record["commands"]:
        data = command["results"][0]["data"] if command["results"] else None
        shown = "" if data is None else f" = {data if isinstance(data, str) else data['b64']}"
        status = command["status"] if command["status"] is not None else "-"
        detail = f"  ({command['detail']})" if command["detail"] else ""
        click.echo(f"  {command['place']:>4} {command['cmd']:<8} {status} "
                   f"{command['uri']}{shown}{detail}")
