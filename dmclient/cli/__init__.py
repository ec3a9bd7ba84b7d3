"""The `dmlab` command. The only part of dmclient that may import servers/."""

from __future__ import annotations

import sys

import click

from dmclient.cli.errors import USER_FACING, UserError
from dmclient.cli.codec_cmd import codec
from dmclient.cli.delegate_cmd import delegate
from dmclient.cli.demo_cmd import demo
from dmclient.cli.handset_cmd import handset
from dmclient.cli.trace_cmd import trace_group
from dmclient.cli.pki_cmd import pki
from dmclient.cli.server_cmd import job, server
from dmclient.cli.tree_cmd import tree


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dmlab")
def cli() -> None:
    """dmlab: a virtual OMA DM handset and the servers that manage and delegate it."""


cli.add_command(codec)
cli.add_command(tree)
cli.add_command(handset)
cli.add_command(trace_group)
cli.add_command(server)
cli.add_command(job)
cli.add_command(pki)
cli.add_command(demo)
cli.add_command(delegate)


def main() -> None:
    """Entry point: every failure a user can cause is one line on stderr, not a traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("dmlab: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"dmlab: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (UserError, *USER_FACING) as exc:
        click.echo(f"dmlab: error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)
