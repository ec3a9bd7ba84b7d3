"""`dmlab tree …`: look at and change a handset's DM Tree, from a profile or a store."""

from __future__ import annotations

import base64
import json
import os

import click
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree as RichTree

from dmclient.cli.errors import UserError
from dmclient.cli.options import handset_options, open_handset
from dmclient.tree import Tree, TreeStore, load_profile, open_tree, tnds
from dmclient.tree.acl import AclCommand
from dmclient.tree.uri import ROOT, name_of


@click.group()
def tree() -> None:
    """Show, query, export and import a handset's DM Tree."""


@tree.command()
@handset_options
@click.argument("uri", default=ROOT)
def show(profile: str | None, store: str | None, handset: str | None, uri: str) -> None:
    """Print the tree (or the subtree at URI) with values, formats and ACLs.

    Secrets (nodes whose AccessType has no Get) are masked. An ACL in brackets is the
    node's own; a node without one inherits from its nearest ancestor that has one.
    """
    t = open_handset(profile, store, handset)
    path = t.parse(uri).path
    if t.node(path) is None:
        raise UserError(f"{path} does not exist")
    view = RichTree(_label(path, t), guide_style="dim")
    branches = {path: view}
    for p, node in t.walk(path):
        if p == path:
            continue
        parent = p.rpartition("/")[0] or ROOT
        branches[p] = branches[parent].add(_label(p, t))
    Console(highlight=False, soft_wrap=True).print(view)


def _label(path: str, t: Tree) -> str:
    node = t.node(path)
    assert node is not None
    name = "." if path == ROOT else escape(name_of(path))
    parts = [f"[bold]{name}[/]" if node.interior else name]
    if node.interior:
        if node.type:
            parts.append(f"[magenta]<{escape(node.type)}>[/]")
    else:
        parts.append(f"[dim]({node.format})[/]")
        parts.append(f"= [green]{escape(_shown_value(node))}[/]")
    if node.acl:
        parts.append(f"[cyan]\\[{escape(node.acl)}][/]")
    if node.permanent:
        parts.append("[yellow]permanent[/]")
    return " ".join(parts)


def _shown_value(node) -> str:
    if not node.allows("Get"):
        return "••••••"
    if isinstance(node.value, bytes):
        return "b64:" + base64.b64encode(node.value).decode()
    return repr(node.value) if node.value in ("", None) else str(node.value)


@tree.command()
@handset_options
@click.option("--server-id", metavar="ID",
              help="Act as this ServerID (ACLs apply); default: device authority.")
@click.argument("uri")
def get(profile: str | None, store: str | None, handset: str | None, server_id: str | None,
        uri: str) -> None:
    """Get a leaf's value, an interior node's children, a ?prop= or a ?list= form."""
    t = open_handset(profile, store, handset)
    result = t.get(uri, server_id)
    if not result.ok:
        raise UserError(f"{int(result.status)} {result.status.meaning}: {result.detail}")
    for item in result.items:
        value = item.value
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode()
        if len(result.items) > 1:
            click.echo(f"{item.uri}\t{item.format}\t{'' if value is None else value}")
        else:
            click.echo("" if value is None else value)


@tree.command()
@handset_options
@click.option("--canonical", is_flag=True, help="Leave out TStamp and VerNo (the digest form).")
@click.argument("uri", default=ROOT)
def export(profile: str | None, store: str | None, handset: str | None, canonical: bool,
           uri: str) -> None:
    """Write the tree (or the subtree at URI) as a TNDS document on stdout."""
    t = open_handset(profile, store, handset)
    path = t.parse(uri).path
    if t.node(path) is None:
        raise UserError(f"{path} does not exist")
    click.get_binary_stream("stdout").write(t.export(path, canonical=canonical))


@tree.command()
@handset_options
def digest(profile: str | None, store: str | None, handset: str | None) -> None:
    """Print the SHA-256 of the canonical export (TStamp and VerNo left out)."""
    click.echo(open_handset(profile, store, handset).digest())


@tree.command("import")
@click.option("--store", type=click.Path(dir_okay=False), metavar="FILE", required=True,
              help="The handset store to change.")
@click.option("--handset", metavar="ID", help="Which handset, in a store that holds several.")
@click.option("--at", "base", default=ROOT, metavar="URI",
              help="Where nodes without a Path go (default: the root).")
@click.argument("document", type=click.Path(exists=True, dir_okay=False))
def import_(store: str, handset: str | None, base: str, document: str) -> None:
    """Merge a TNDS document into a stored handset, all of it or nothing.

    New nodes are added; existing ones take the document's values, ACLs and titles.
    This is device authority: no ACL is checked.
    """
    t = open_tree(store, handset)
    with open(document, "rb") as fh:
        entries = tnds.parse(fh.read(), base=t.parse(base).path)
    result = t.apply_tnds(entries, merge=True)
    if not result.ok:
        raise UserError(f"nothing imported: {int(result.status)} {result.status.meaning}: "
                        f"{result.detail}")
    click.echo(f"imported {len(entries)} nodes into {store}")


@tree.command()
@click.option("--store", type=click.Path(dir_okay=False), metavar="FILE", required=True,
              help="The store file to create (or add a handset to).")
@click.option("--profile", metavar="FILE|NAME", default="default", show_default=True,
              help="The profile the handset starts from.")
@click.option("--handset", metavar="ID", default="handset", show_default=True,
              help="The new handset's id in the store.")
def init(store: str, profile: str, handset: str) -> None:
    """Create a handset in a store, starting from a profile."""
    p = load_profile(profile)
    with TreeStore(store, create=True) as s:
        s.new_handset(handset, p)
    click.echo(f"handset {handset!r} from profile {p.name} in {os.path.abspath(store)}")


@tree.command()
@handset_options
@click.option("--json", "as_json", is_flag=True, help="Print {allowed, decided_by}.")
@click.argument("server")
@click.argument("command", type=click.Choice([c.value for c in AclCommand]))
@click.argument("uri")
def can(profile: str | None, store: str | None, handset: str | None, as_json: bool,
        server: str, command: str, uri: str) -> None:
    """May SERVER run COMMAND on URI? (URI may end in ?prop=ACL.)"""
    decision = open_handset(profile, store, handset).can(server, command, uri)
    if as_json:
        click.echo(json.dumps({"allowed": decision.allowed, "decided_by": decision.decided_by}))
    else:
        verdict = "allowed" if decision.allowed else "denied"
        click.echo(f"{verdict}: decided by the ACL of {decision.decided_by}")

