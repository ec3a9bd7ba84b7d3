"""The DM profile: a WBXML DM message whose Adds install accounts, and which gets no reply.

Applying it is like running a server's Adds, but with bootstrap authority: no ACL is
consulted and the ACLs the message carries (TNDS RTProperties/ACL, or a Replace of
`?prop=ACL`) are taken as they are. Only Add and Replace, possibly inside Atomic or
Sequence, may appear: a bootstrap installs, it does not read, delete or run anything.

The message we build (for the bootstrap server) follows the Funambol layout in DM 1.2
form: SessionID 0, MsgID 1, Target the DevId, Source the bootstrap server's URL, one Add
of a TNDS document holding the account under ./DMAcc, and Final.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from dmclient.bootstrap.account import DMACC_ROOT, AccountSpec, account_nodes
from dmclient.bootstrap.errors import BootstrapError
from dmclient.session.executor import TNDS_TYPES
from dmclient.session.payload import as_text, as_value
from dmclient.tree import Tree, UriError, tnds
from dmclient.tree.result import Result
from dmclient.wire import (Add, Atomic, Body, Command, Header, Item, Location, Message, Meta,
                           Replace, Sequence, embed_xml, encode_wbxml)

SESSION_ID, MSG_ID = "0", "1"


def build_message(spec: AccountSpec, *, dev_id: str, source: str) -> bytes:
    """The WBXML DM-profile bootstrap that installs `spec` on the handset `dev_id`."""
    document = etree.fromstring(tnds.export(account_nodes(spec)))
    add = Add(cmd_id="1", items=[Item(
        target=Location(loc_uri=DMACC_ROOT), meta=Meta(format="xml", type=TNDS_TYPES[0]),
        data=embed_xml(etree.tostring(document)))])
    header = Header(session_id=SESSION_ID, msg_id=MSG_ID, target=Location(loc_uri=dev_id),
                    source=Location(loc_uri=source))
    return encode_wbxml(Message(header=header, body=Body(commands=[add], final=True)))


def apply_message(tree: Tree, message: Message, dev_id: str) -> None:
    """Run the message's Adds and Replaces with device authority; BootstrapError on the
    first that fails. The caller holds the transaction that makes this all or nothing."""
    target = message.header.target.loc_uri
    if target != dev_id:
        raise BootstrapError(f"the bootstrap is addressed to {target}, and this handset "
                             f"is {dev_id}")
    for command in _flatten(message.body.commands):
        for item in command.items:
            _apply(tree, command, item)


def _flatten(commands: list[Command]) -> Iterator[Add | Replace]:
    for command in commands:
        if isinstance(command, (Atomic, Sequence)):
            yield from _flatten(command.commands)
        elif isinstance(command, (Add, Replace)):
            yield command
        else:
            raise BootstrapError(f"a bootstrap may only Add or Replace; it carries "
                                 f"{type(command).__name__} (CmdID {command.cmd_id})")


def _apply(tree: Tree, command: Add | Replace, item: Item) -> None:
    name = type(command).__name__
    target = item.target.loc_uri if item.target else ""
    if not target:
        raise BootstrapError(f"{name} (CmdID {command.cmd_id}) has an Item with no Target")
    if item.more_data:
        raise BootstrapError(f"{name} {target}: a bootstrap cannot carry chunked objects")
    meta = item.meta or command.meta or Meta()
    if isinstance(command, Add) and meta.type in TNDS_TYPES:
        try:
            entries = tnds.parse(as_text(item.data).encode(), base=tree.parse(target).path)
        except (tnds.TndsError, UriError) as exc:
            raise BootstrapError(f"Add {target}: bad TNDS: {exc}") from None
        result: Result = tree.apply_tnds(entries)
    elif isinstance(command, Add):
        result = tree.add(target, value=as_value(item.data), format=meta.format, type=meta.type)
    else:
        result = tree.replace(target, value=as_value(item.data), format=meta.format,
                              type=meta.type)
    if not result.ok:
        detail = f": {result.detail}" if result.detail else ""
        raise BootstrapError(f"{name} {target} failed with {int(result.status)} "
                             f"{result.status.meaning}{detail}")
