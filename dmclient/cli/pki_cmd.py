"""`dmlab pki init DIR`: a lab CA and a certificate per server, naming its ServerID."""

from __future__ import annotations

import click

from dmclient.cli.errors import UserError
from servers.pki import LabCA, PkiError


@click.group()
def pki() -> None:
    """Certificates for the lab's servers (HTTPS, and mutual TLS between servers)."""


@pki.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--server", "servers", multiple=True, default=("dms1", "dms2", "bootstrap"),
              show_default=True, help="A ServerID to issue a certificate for (repeatable).")
@click.option("--host", "hosts", multiple=True, default=("127.0.0.1", "::1", "localhost"),
              show_default=True, help="A host name or address the certificates cover.")
def init(directory: str, servers: tuple[str, ...], hosts: tuple[str, ...]) -> None:
    """Create a lab CA in DIRECTORY and one certificate and key per server."""
    try:
        ca = LabCA.create(directory)
        issued = [ca.issue(server_id, tuple(hosts)) for server_id in servers]
    except PkiError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"CA: {ca.ca_file}")
    for item in issued:
        click.echo(f"{item.server_id}: {item.cert} {item.key}")
