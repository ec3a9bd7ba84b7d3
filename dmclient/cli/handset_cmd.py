"""`dmlab handset …`: run the virtual handset against a DM server."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any, Callable

import click

from dmclient.bootstrap import Secrets
from dmclient.cli.errors import UserError
from dmclient.cli.options import handset_options, open_handset
from dmclient.handset import NOTIFICATION_PATH, Handset, SessionSummary
from dmclient.session import UiMode, UiPolicy
from dmclient.transport import DEFAULT_TIMEOUT
from dmclient.tree import Tree
from dmclient.wire import Encoding


def session_options(command: Callable) -> Callable:
    """How the handset talks to servers: encoding, trust store, UI answers, traces."""
    for option in reversed((
        click.option("--encoding", type=click.Choice([e.value for e in Encoding]),
                     default=Encoding.XML.value, show_default=True,
                     help="How the handset encodes its messages."),
        click.option("--trace", "trace_dir", type=click.Path(file_okay=False), metavar="DIR",
                     help="Write every message of every session under DIR."),
        click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False),
                     metavar="FILE", help="Trust only the CA certificates in FILE (PEM) "
                                          "for HTTPS (default: the system's)."),
        click.option("--ui", type=click.Choice([m.value for m in UiMode
                                                if m is not UiMode.SCRIPTED]),
                     default=UiMode.ACCEPT.value, show_default=True,
                     help="How the virtual user answers UI alerts (and UI mode 3)."),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=DEFAULT_TIMEOUT,
                     show_default=True, metavar="SECONDS",
                     help="Give up on a server that takes longer to answer."),
        click.option("--imsi", metavar="DIGITS",
                     help="The SIM's IMSI, for bootstraps signed NETWPIN or USERNETWPIN."),
        click.option("--pin", metavar="PIN",
                     help="The user PIN (or USERPINMAC code) for signed bootstraps."),
    )):
        command = option(command)
    return command


def _handset(tree: Tree, settings: dict[str, Any], **extra: Any) -> Handset:
    """A Handset from session_options' values."""
    return Handset(tree, encoding=Encoding(settings["encoding"]), trace_dir=settings["trace_dir"],
                   ca_file=settings["ca_file"], ui=UiPolicy(mode=UiMode(settings["ui"])),
                   timeout=settings["timeout"],
                   bootstrap_secrets=Secrets(imsi=settings["imsi"], pin=settings["pin"]),
                   **extra)


@click.group()
def handset() -> None:
    """Run the virtual handset: one session, or a long-running handset."""


@handset.command()
@handset_options
@click.option("--server-id", required=True, metavar="ID",
              help="The DMAcc account (ServerID) whose server to connect to.")
@session_options
@click.option("--json", "as_json", is_flag=True,
              help="Print a summary: outcome, and every command with its status.")
def connect(profile: str | None, store: str | None, handset: str | None, server_id: str,
            as_json: bool, **settings: Any) -> None:
    """One client-initiated session with the server of ServerID's account.

    Exits 0 if the session completed, 1 otherwise. With --store, every change the
    server makes (and every nonce) persists in the store.
    """
    device = _handset(open_handset(profile, store, handset), settings)
    summary = asyncio.run(device.connect(server_id))
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        _print_summary(summary)
    if not summary.completed:
        raise UserError(f"session with {server_id} ended {summary.outcome}: {summary.reason}")


@handset.command()
@handset_options
@click.argument("url", required=False)
@session_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def bootstrap(profile: str | None, store: str | None, handset: str | None, url: str | None,
              as_json: bool, **settings: Any) -> None:
    """Fetch a bootstrap over HTTPS (from URL, or ./Vendor/DMLab/Bootstrap/URL), verify
    and install it, then open a session to each new server that SuppressSession allows."""
    device = _handset(open_handset(profile, store, handset), settings)
    result = asyncio.run(device.bootstrap(url))
    if as_json:
        click.echo(json.dumps({"url": result.url, "state": result.state,
                               "installed": list(result.server_ids),
                               "sessions": [s.to_json() for s in device.sessions]}, indent=2))
    else:
        click.echo(f"bootstrap from {result.url}: {result.state}")
        for summary in device.sessions:
            _print_summary(summary)
    if not result.installed:
        raise UserError(f"bootstrap not installed: {result.reason}")


def _print_summary(summary: SessionSummary) -> None:
    while True:
        click.echo(f"session {summary.session_id} with {summary.server_id} "
                   f"({summary.initiator}-initiated): {summary.outcome}")
        for c in summary.commands:
            detail = f"  {c.detail}" if c.detail else ""
            click.echo(f"  {c.cmd:<8} {c.target or '-'}  {c.status}{detail}")
        if summary.trace:
            click.echo(f"trace: {summary.trace}")
        if summary.followup is None:
            return
        summary = summary.followup


@handset.command()
@handset_options
@click.option("--listen", "address", default="127.0.0.1:0", show_default=True,
              metavar="HOST:PORT", help="Where to take package 0 over HTTP (port 0: any).")
@click.option("--udp", type=click.IntRange(0, 65535), metavar="PORT",
              help="Also take package 0 as UDP datagrams on this port (same host).")
@click.option("--poll", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Open a client-initiated session with every account this often.")
@session_options
def run(profile: str | None, store: str | None, handset: str | None, address: str,
        udp: int | None, poll: float | None, **settings: Any) -> None:
    """A long-running handset: package-0 listener, optional polling, until SIGINT/SIGTERM."""
    host, port = _host_port(address)
    device = _handset(open_handset(profile, store, handset), settings, poll_interval=poll,
                      on_event=click.echo)
    asyncio.run(_serve(device, host, port, udp))


async def _serve(device: Handset, host: str, port: int, udp: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    shown = f"[{host}]" if ":" in host else host
    bound = await device.listen(host, port)
    click.echo(f"listening for package 0 on http://{shown}:{bound}{NOTIFICATION_PATH}")
    if udp is not None:
        click.echo(f"listening for package 0 on udp {shown}:{await device.listen_udp(host, udp)}")
    serving = asyncio.create_task(device.serve_forever())
    await stop.wait()
    await device.stop()
    await serving
    click.echo("stopped")


def _host_port(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise UserError(f"--listen {text!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)
