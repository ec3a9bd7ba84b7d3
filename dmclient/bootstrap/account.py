"""A DM account to install, and the nodes it becomes under ./DMAcc.

Both profiles end here: the DM-profile builder serialises these nodes as TNDS, and a CP
(w7) document is mapped to an AccountSpec and applied as the same nodes, so an account
looks the same on the handset whichever way it arrived. The layout is the default
profile's: `AppAddr/1/{Addr,AddrType,Port/1/PortNbr}`, credentials under
`AppAuth/ClientSide` (CLCRED) and `AppAuth/ServerSide` (SRVCRED), `Ext/SuppressSession`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmclient.auth import AAuthType
from dmclient.tree.accounts import CLCRED, DMACC_TYPE, SRVCRED
from dmclient.tree.acl import AclCommand, AclError, EMPTY, parse as parse_acl
from dmclient.tree.formats import NODE
from dmclient.tree.node import Node
from dmclient.tree.uri import UriError, child_path, validate_name

DMACC_ROOT = "./DMAcc"
AUTH_LEVELS = (CLCRED, SRVCRED, "OBEX", "HTTP")
#: OBEX and HTTP levels sit below SyncML and allow only these types (digest §4).
_TRANSPORT_TYPES = {AAuthType.HTTP_BASIC, AAuthType.HTTP_DIGEST, AAuthType.TRANSPORT}
_AUTH_NODE = {CLCRED: "ClientSide", SRVCRED: "ServerSide"}
_ADDR_TYPES = ("URI", "IPv4", "IPv6")


@dataclass(frozen=True, slots=True)
class AppAuth:
    """One AppAuth/<X> entry: who proves what to whom, and with which secret and nonce."""

    level: str
    type: AAuthType
    name: str = ""
    secret: str = ""
    nonce: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", self.level.upper())
        if self.level not in AUTH_LEVELS:
            raise ValueError(f"AAuthLevel {self.level!r} is not one of {'|'.join(AUTH_LEVELS)}")
        try:
            object.__setattr__(self, "type", AAuthType(str(self.type).upper()))
        except ValueError:
            raise ValueError(f"AAuthType {self.type!r} is not one of "
                             f"{'|'.join(t.value for t in AAuthType)}") from None
        if self.level in ("OBEX", "HTTP") and self.type not in _TRANSPORT_TYPES:
            raise ValueError(f"AAuthLevel {self.level} allows only HTTP-BASIC, HTTP-DIGEST "
                             "or TRANSPORT")


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """A DMAcc account (w7). `acl` is the account node's ACL; empty means the ServerID
    gets Add, Delete, Get and Replace on it. `node_name` is <X>; empty means the ServerID."""

    server_id: str
    addr: str
    name: str = ""
    addr_type: str = "URI"
    port: int | None = None
    auth_pref: str = ""
    app_auth: tuple[AppAuth, ...] = ()
    suppress_session: bool = False
    acl: str = ""
    node_name: str = ""

    def __post_init__(self) -> None:
        if not self.server_id:
            raise ValueError("the account has no server_id")
        if not self.addr:
            raise ValueError(f"account {self.server_id}: addr is empty")
        if self.addr_type not in _ADDR_TYPES:
            raise ValueError(f"account {self.server_id}: addr_type {self.addr_type!r} is "
                             f"not one of {'|'.join(_ADDR_TYPES)}")
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"account {self.server_id}: port {self.port} is out of range")
        try:
            validate_name(self.node)
        except UriError as exc:
            raise ValueError(f"account {self.server_id}: no usable node name: {exc}") from None
        try:
            parse_acl(self.account_acl)
        except AclError as exc:
            raise ValueError(f"account {self.server_id}: bad ACL: {exc}") from None
        levels = [a.level for a in self.app_auth]
        if len(set(levels)) != len(levels):
            raise ValueError(f"account {self.server_id}: an AAuthLevel appears twice")

    @property
    def node(self) -> str:
        return self.node_name or self.server_id

    @property
    def path(self) -> str:
        return child_path(DMACC_ROOT, self.node)

    @property
    def account_acl(self) -> str:
        if self.acl:
            return self.acl
        commands = (AclCommand.ADD, AclCommand.DELETE, AclCommand.GET, AclCommand.REPLACE)
        return str(EMPTY.with_server(commands, self.server_id))


def account_nodes(spec: AccountSpec) -> list[tuple[str, Node]]:
    """The account as tree nodes, parents before children, ready for TNDS."""
    root = spec.path
    out: list[tuple[str, Node]] = [(root, Node(format=NODE, type=DMACC_TYPE,
                                               acl=spec.account_acl))]

    def interior(path: str) -> str:
        out.append((path, Node(format=NODE)))
        return path

    def leaf(parent: str, name: str, value: str | bytes, fmt: str = "chr") -> None:
        out.append((child_path(parent, name), Node(format=fmt, value=value)))

    leaf(root, "AppID", "w7")
    leaf(root, "ServerID", spec.server_id)
    if spec.name:
        leaf(root, "Name", spec.name)
    addr = interior(child_path(interior(child_path(root, "AppAddr")), "1"))
    leaf(addr, "Addr", spec.addr)
    leaf(addr, "AddrType", spec.addr_type)
    if spec.port is not None:
        port = interior(child_path(interior(child_path(addr, "Port")), "1"))
        leaf(port, "PortNbr", str(spec.port), "int")
    if spec.auth_pref:
        leaf(root, "AAuthPref", spec.auth_pref)
    if spec.app_auth:
        auth_root = interior(child_path(root, "AppAuth"))
        for auth in spec.app_auth:
            entry = interior(child_path(auth_root, _AUTH_NODE.get(auth.level, auth.level)))
            leaf(entry, "AAuthLevel", auth.level)
            leaf(entry, "AAuthType", auth.type.value)
            if auth.name:
                leaf(entry, "AAuthName", auth.name)
            if auth.secret:
                leaf(entry, "AAuthSecret", auth.secret)
            if auth.nonce:
                leaf(entry, "AAuthData", auth.nonce, "bin")
    ext = interior(child_path(root, "Ext"))
    leaf(ext, "SuppressSession", "true" if spec.suppress_session else "false", "bool")
    return out
