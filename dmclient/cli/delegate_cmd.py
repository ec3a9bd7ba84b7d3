"""`dmlab delegate`: ask a running DM server, through its admin API, to start a
delegation, and optionally wait for its outcome."""

from __future__ import annotations

import json
import time

import click

from dmclient.cli.errors import UserError
from dmclient.cli.server_cmd import admin_call


@click.command()
@click.option("--from", "admin_url", required=True, metavar="ADMIN_URL",
              help="The initiating server's base URL (its admin API): DMS-1 for methods 1 "
                   "and 3, DMS-2 for methods 2 and 4.")
@click.option("--to", "peer", required=True, metavar="SERVER_ID",
              help="The other server's ServerID (one of the initiator's peers).")
@click.option("--device", required=True, help="The DevId of the handset to delegate.")
@click.option("--method", type=click.IntRange(1, 4), required=True, help="Delegation method.")
@click.option("--type", "del_type", type=click.Choice(["full", "partial"]), required=True,
              help="Delegate the whole tree, or the subtrees given with --path.")
@click.option("--path", "paths", multiple=True, metavar="URI",
              help="A subtree to delegate (repeatable; a partial delegation needs one; "
                   "a full one delegates '.').")
@click.option("--notify", metavar="URL",
              help="The handset's package-0 address (needed when DMS-2 initiates).")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False),
              help="CA certificate to trust for an HTTPS admin URL.")
@click.option("--wait", "wait_seconds", type=click.FloatRange(min=0), default=0,
              help="Wait up to this many seconds for the outcome, and print it.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def delegate(admin_url: str, peer: str, device: str, method: int, del_type: str,
             paths: tuple[str, ...], notify: str | None, ca: str | None, wait_seconds: float,
             as_json: bool) -> None:
    """Start a delegation of DEVICE to (or from) the server --to; exits 1 if, waited
    for, it was rolled back."""
    answer = admin_call(admin_url, "/admin/delegations",
                    {"device": device, "peer": peer, "method": method, "type": del_type,
                     "paths": list(paths), "notification_address": notify}, ca)
    assert isinstance(answer, dict)
    delegation_id = answer["delegation_id"]
    record = admin_call(admin_url, f"/admin/delegations/{delegation_id}", ca=ca)
    deadline = time.monotonic() + wait_seconds
    while wait_seconds and record["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        record = admin_call(admin_url, f"/admin/delegations/{delegation_id}", ca=ca)
    if as_json:
        click.echo(json.dumps(record, indent=1))
    else:
        _print(record)
    if record["status"] == "rolled_back":
        raise UserError(f"delegation {delegation_id} rolled back at step {record['step']}: "
                        f"{record['reason']}")


def _print(record: dict) -> None:
    click.echo(f"delegation {record['delegation_id']}: method {record['method']} "
               f"{record['type']} of {record['device']}, {record['status']}")
    for message in record["messages"]:
        click.echo(f"  {message['from']} -> {message['to']}: {message['kind']}")
    if record["reason"]:
        click.echo(f"  step {record['step']}: {record['reason']}")
