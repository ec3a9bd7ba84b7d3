"""Options shared by every command that works on one handset: which tree to use."""

from __future__ import annotations

from typing import Callable

import click

from dmclient.cli.errors import UserError
from dmclient.tree import Tree, load_profile, open_tree


def handset_options(command: Callable) -> Callable:
    """--profile FILE|NAME, --store FILE and --handset ID (a handset in a store)."""
    command = click.option("--handset", metavar="ID",
                           help="Which handset, in a store that holds several.")(command)
    command = click.option("--store", type=click.Path(dir_okay=False), metavar="FILE",
                           help="A handset's SQLite store.")(command)
    command = click.option("--profile", metavar="FILE|NAME",
                           help="A TNDS profile: a file, or a name in trees/ "
                                "(default: the default profile).")(command)
    return command


def open_handset(profile: str | None, store: str | None, handset: str | None) -> Tree:
    """The tree those options name; a stored one keeps every change it is given."""
    if profile and store:
        raise UserError("give --profile or --store, not both")
    if store:
        return open_tree(store, handset)
    if handset:
        raise UserError("--handset goes with --store")
    return Tree(load_profile(profile or "default"))
