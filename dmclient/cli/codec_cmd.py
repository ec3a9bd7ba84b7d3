"""`dmlab codec …`: turn SyncML DM messages from one encoding into the other."""

from __future__ import annotations

import click
from lxml import etree

from dmclient.cli.errors import UserError
from dmclient import wire


def _read(path: str) -> wire.Message:
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        return wire.decode(data)
    except wire.DecodeError as exc:
        raise UserError(f"{path}: {exc}") from None


@click.group()
def codec() -> None:
    """Decode and encode SyncML DM messages (XML and WBXML)."""


@codec.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def decode(file: str) -> None:
    """Print FILE (XML or WBXML, detected) as indented XML."""
    canonical = wire.encode_xml(_read(file))
    pretty = etree.tostring(etree.fromstring(canonical), pretty_print=True,
                            xml_declaration=True, encoding="UTF-8")
    click.get_binary_stream("stdout").write(pretty)


@codec.command()
@click.option("--to", "target", type=click.Choice(["xml", "wbxml"]), required=True,
              help="The encoding to write.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def encode(target: str, file: str) -> None:
    """Write FILE (XML or WBXML) in the other encoding's bytes on stdout."""
    message = _read(file)
    try:
        body = wire.encode(message, wire.Encoding(target))
    except wire.EncodeError as exc:
        raise UserError(f"{file}: cannot encode as {target}: {exc}") from None
    click.get_binary_stream("stdout").write(body)
