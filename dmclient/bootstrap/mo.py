"""The bootstrap-URL handover MO, ./Vendor/DMLab/Bootstrap (this project's own; see the
design, "What this project defines").

    ./Vendor/DMLab/Bootstrap    node  no ACL: inherits ./Vendor/DMLab's (dms1 in the default
                                      profile may Get, Replace and Exec here)
        URL                     chr   the bootstrap server's https:// URL; a server Replaces it
        State                   chr   idle | fetching | installed | failed: <reason>
                                      ACL Get=*: every server may read it, none may write it;
                                      the handset writes it with device authority
        Fetch                   chr   Exec: fetch URL, verify, install; answered 202, the
                                      outcome follows in State and a Generic Alert 1226

A DM server starts and watches a fetch with ordinary commands: Replace URL, Exec Fetch,
Get State.
"""

from __future__ import annotations

from enum import StrEnum

from dmclient.bootstrap.errors import BootstrapError
from dmclient.tree import Tree, tnds
from dmclient.tree.formats import NODE
from dmclient.tree.node import Node

BOOTSTRAP = "./Vendor/DMLab/Bootstrap"
URL = f"{BOOTSTRAP}/URL"
STATE = f"{BOOTSTRAP}/State"
FETCH = f"{BOOTSTRAP}/Fetch"
#: A State longer than this is cut: it is a report line, not a log.
MAX_STATE = 500


class State(StrEnum):
    IDLE = "idle"
    FETCHING = "fetching"
    INSTALLED = "installed"
    FAILED = "failed"


def failed(reason: str) -> str:
    """The State text of a refusal."""
    text = f"{State.FAILED}: {' '.join(reason.split())}"
    return text if len(text) <= MAX_STATE else text[:MAX_STATE - 1] + "…"


def mo_nodes() -> list[tuple[str, Node]]:
    """The MO as it is created on a handset that lacks it (and as a profile may ship it)."""
    return [
        (BOOTSTRAP, Node(format=NODE, title="Bootstrap server handover")),
        (URL, Node(value="", title="HTTPS URL of the bootstrap server")),
        (STATE, Node(value=State.IDLE.value, acl="Get=*",
                     title="idle | fetching | installed | failed: <reason>")),
        (FETCH, Node(value="", title="Exec: fetch the bootstrap at URL and install it")),
    ]


def ensure_bootstrap_mo(tree: Tree) -> None:
    """Create whatever part of the MO is missing, with device authority."""
    missing = [tnds.TndsEntry(path, node, frozenset()) for path, node in mo_nodes()
               if tree.node(path) is None]
    if missing:
        result = tree.apply_tnds(missing)
        if not result.ok:
            raise BootstrapError(f"cannot create {BOOTSTRAP}: {result.detail}")


def read_url(tree: Tree) -> str:
    node = tree.node(URL)
    value = node.value if node is not None and not node.interior else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return (value or "").strip()


def write_url(tree: Tree, url: str) -> None:
    if read_url(tree) != url:
        tree.replace(URL, value=url)


def set_state(tree: Tree, text: str) -> None:
    """Record progress; a State the store cannot keep is not worth failing a fetch for."""
    tree.replace(STATE, value=str(text))
