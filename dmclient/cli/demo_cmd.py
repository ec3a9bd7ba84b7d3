"""`dmlab demo`: the whole delegation lab on loopback, one delegation per method."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile

import click

from dmclient.cli.errors import UserError
from dmclient.wire import Encoding
from servers.delegation.messages import DelType
from servers.delegation.methods import METHODS
from servers.lab import Lab, Run, lab_ca


@click.command()
@click.option("--method", type=click.Choice(["1", "2", "3", "4", "all"]), default="all",
              show_default=True, help="Which delegation method to run.")
@click.option("--type", "del_type", type=click.Choice(["full", "partial"]), default="full",
              show_default=True, help="Full or partial delegation.")
@click.option("--fail-at", type=int, default=None, metavar="STEP",
              help="Make this step of the method's figure fail.")
@click.option("--encoding", type=click.Choice(["xml", "wbxml"]), default="xml",
              show_default=True, help="The encoding of the handset's DM sessions.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per delegation.")
def demo(method: str, del_type: str, fail_at: int | None, encoding: str, as_json: bool) -> None:
    """Run DMS-1 (dms1), DMS-2 (dms2), a bootstrap server and a handset on loopback,
    and delegate the handset from dms1 to dms2."""
    # The lab narrates what the handset does; its fetcher's own warnings would repeat it.
    logging.getLogger("dmlab.bootstrap").addHandler(logging.NullHandler())
    logging.getLogger("dmlab.bootstrap").propagate = False
    numbers = [1, 2, 3, 4] if method == "all" else [int(method)]
    for number in numbers:
        last = len(METHODS[number].steps)
        if fail_at is not None and not 1 <= fail_at <= last:
            raise UserError(f"--fail-at {fail_at}: method {number} has steps 1-{last}")
    say = (lambda text: None) if as_json else (lambda text: click.echo(f"  {text}"))
    with tempfile.TemporaryDirectory(prefix="dmlab-demo-") as directory:
        ca = lab_ca(directory)
        for number in numbers:
            if not as_json:
                click.echo(f"method {number}: {METHODS[number].title} ({del_type})")
            run = asyncio.run(_one(ca, number, DelType(del_type.capitalize()), fail_at,
                                   Encoding(encoding), say))
            click.echo(json.dumps(run.to_json()) if as_json else _summary(run))


async def _one(ca, number, del_type, fail_at, encoding, say) -> Run:  # type: ignore[no-untyped-def]
    async with Lab(ca, encoding=encoding, fail_at=fail_at, say=say) as lab:
        return await lab.delegate(number, del_type)


def _summary(run: Run) -> str:
    failure = run.failure
    lines = [f"  => {run.outcome}" + (f" (step {failure['step']}: {failure['reason']})"
                                     if failure else ""),
             f"  accounts: {', '.join(run.accounts_before)} -> {', '.join(run.accounts_after)}",
             "  ACLs:"]
    for path in sorted(set(run.acls_before) | set(run.acls_after)):
        before, after = run.acls_before.get(path, "-"), run.acls_after.get(path, "-")
        lines.append(f"    {path}: {before}" + (f"  ->  {after}" if after != before else ""))
    same = "the same" if run.tree_before == run.tree_after else "changed"
    lines.append(f"  tree digest {run.tree_before[:16]}… -> {run.tree_after[:16]}… ({same})\n")
    return "\n".join(lines)
