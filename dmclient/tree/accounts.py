"""DM 1.2 accounts (DMAcc, AppID w7) as the handset itself reads them.

The location of an account is not fixed (`./DMAcc/<X>`, `./SyncML/DMAcc/<X>`, ...): an
account is an interior node whose Type is the DMAcc MO id, or which has `AppID` = w7. The
handset reads its own credentials with device authority, secrets included.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmclient.tree.node import Node
from dmclient.tree.tree import Tree
from dmclient.tree.uri import child_path

DMACC_TYPE = "urn:oma:mo:oma-dm-dmacc:1.0"
CLCRED, SRVCRED = "CLCRED", "SRVCRED"


@dataclass(frozen=True, slots=True)
class Credential:
    path: str
    level: str
    type: str
    name: str
    secret: str
    data: bytes  # the nonce, decoded


@dataclass(frozen=True, slots=True)
class Account:
    path: str
    server_id: str
    name: str
    addr: str
    addr_type: str
    port: int | None
    auth_pref: str
    credentials: tuple[Credential, ...]
    suppress_session: bool

    def credential(self, level: str) -> Credential | None:
        return next((c for c in self.credentials if c.level == level), None)

    @property
    def client_credential(self) -> Credential | None:
        """How the handset proves itself to the server (CLCRED)."""
        return self.credential(CLCRED)

    @property
    def server_credential(self) -> Credential | None:
        """How the server proves itself to the handset, in Cred and in package 0 (SRVCRED)."""
        return self.credential(SRVCRED)


def account_paths(tree: Tree) -> list[str]:
    return [path for path, node in tree.walk()
            if node.interior and (node.type == DMACC_TYPE or _app_id_w7(tree, path, node))]


def accounts(tree: Tree) -> list[Account]:
    return [read_account(tree, path) for path in account_paths(tree)]


def find_account(tree: Tree, server_id: str) -> Account | None:
    """Only the account asked for is read in full (every session starts here)."""
    return next((read_account(tree, path) for path in account_paths(tree)
                 if _leaf(tree, path, "ServerID") == server_id), None)


def read_account(tree: Tree, path: str) -> Account:
    addr_path = _first_child(tree, child_path(path, "AppAddr"))
    port_path = _first_child(tree, child_path(addr_path, "Port")) if addr_path else None
    port_text = _leaf(tree, port_path, "PortNbr") if port_path else ""
    auth_root = child_path(path, "AppAuth")
    creds = []
    auth_node = tree.node(auth_root)
    for name in auth_node.children if auth_node is not None else ():
        cpath = child_path(auth_root, name)
        data = tree.node(child_path(cpath, "AAuthData"))
        creds.append(Credential(
            path=cpath,
            level=_leaf(tree, cpath, "AAuthLevel"),
            type=_leaf(tree, cpath, "AAuthType"),
            name=_leaf(tree, cpath, "AAuthName"),
            secret=_leaf(tree, cpath, "AAuthSecret"),
            data=_as_bytes(data.value) if data is not None else b"",
        ))
    return Account(
        path=path,
        server_id=_leaf(tree, path, "ServerID"),
        name=_leaf(tree, path, "Name"),
        addr=_leaf(tree, addr_path, "Addr") if addr_path else "",
        addr_type=(_leaf(tree, addr_path, "AddrType") if addr_path else "") or "URI",
        port=int(port_text) if port_text.lstrip("-").isdigit() else None,
        auth_pref=_leaf(tree, path, "AAuthPref"),
        credentials=tuple(creds),
        suppress_session=_leaf(tree, child_path(path, "Ext"), "SuppressSession") == "true",
    )


def _leaf(tree: Tree, parent: str, name: str) -> str:
    node = tree.node(child_path(parent, name))
    if node is None or node.interior or node.value is None:
        return ""
    value = node.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _app_id_w7(tree: Tree, path: str, node: Node) -> bool:
    """Has an AppID child that says w7 (checked by name first: most nodes have none)."""
    return "AppID" in node.children and _leaf(tree, path, "AppID") == "w7"


def _first_child(tree: Tree, path: str) -> str | None:
    node = tree.node(path)
    if node is None or not node.children:
        return None
    return child_path(path, node.children[0])


def _as_bytes(value: str | bytes | None) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else value.encode()
