"""The CP profile: a wap-provisioningdoc whose APPLICATION w7 is a DM account.

The w7 mapping (digest §4): PROVIDER-ID → ServerID, NAME → Name, ADDR or
APPADDR/{ADDR, ADDRTYPE, PORT/PORTNBR} → AppAddr, and each APPAUTH → AppAuth/<X> with
AAUTHLEVEL APPSRV → CLCRED, CLIENT → SRVCRED, OBEX → OBEX, and AAUTHTYPE, AAUTHNAME,
AAUTHSECRET and AAUTHDATA (base64, as DMAcc stores it) as they are. The client names
<X> and grants the ServerID Get, Replace and Delete on it.

Characteristics other than APPLICATION w7 (NAPDEF, PXLOGICAL, other applications) and
the w7 parameters that point at them (TO-NAPID, TO-PROXY) or have no DMAcc node (INIT)
are not mapped: this handset has no connectivity MO.
"""

from __future__ import annotations

import base64
import binascii
from typing import Callable

from lxml import etree

from dmclient.auth import AAuthType
from dmclient.bootstrap import cp_wbxml
from dmclient.bootstrap.account import AccountSpec, AppAuth
from dmclient.bootstrap.errors import BootstrapError
from dmclient.tree.accounts import CLCRED, SRVCRED
from dmclient.tree.acl import AclCommand, EMPTY

W7 = "w7"
CP_VERSION = "1.1"
_LEVEL_FROM_CP = {"APPSRV": CLCRED, "CLIENT": SRVCRED, "OBEX": "OBEX"}
_LEVEL_TO_CP = {level: cp for cp, level in _LEVEL_FROM_CP.items()}
_ADDRTYPE_FROM_CP = {"URI": "URI", "IPV4": "IPv4", "IPV6": "IPv6"}
_ADDRTYPE_TO_CP = {dm: cp for cp, dm in _ADDRTYPE_FROM_CP.items()}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)


def read_document(body: bytes) -> etree._Element:
    """A provisioning document in XML or WBXML (told apart by the first byte)."""
    if not body:
        raise BootstrapError("malformed CP bootstrap: the body is empty")
    try:
        root = cp_wbxml.decode(body) if body[0] <= 0x03 else etree.fromstring(body, _PARSER)
    except (cp_wbxml.CpWbxmlError, etree.XMLSyntaxError) as exc:
        raise BootstrapError(f"malformed CP bootstrap: {exc}") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and (any(dtd.iterentities()) or any(dtd.iterelements())):
        # The usual <!DOCTYPE … PUBLIC "-//WAPFORUM//DTD PROV 1.0//EN" …> is fine; a
        # subset that declares entities or elements is not.
        raise BootstrapError("malformed CP bootstrap: a DTD internal subset is not allowed")
    if root.tag != "wap-provisioningdoc":
        raise BootstrapError(f"malformed CP bootstrap: root element is <{root.tag}>, "
                             "expected <wap-provisioningdoc>")
    return root


def cp_acl(server_id: str) -> str:
    """What the client grants a CP-provisioned server on its own account."""
    commands = (AclCommand.DELETE, AclCommand.GET, AclCommand.REPLACE)
    return str(EMPTY.with_server(commands, server_id))


def accounts_from(root: etree._Element, name_for: Callable[[str], str]) -> list[AccountSpec]:
    """Every APPLICATION w7 of the document as an account; `name_for(server_id)` is the
    <X> the client picks for it."""
    specs = []
    for app in _characteristics(root, "APPLICATION"):
        if _parm(app, "APPID") != W7:
            continue
        try:
            specs.append(_account(app, name_for))
        except ValueError as exc:
            raise BootstrapError(f"CP w7: {exc}") from None
    if not specs:
        raise BootstrapError("CP bootstrap holds no APPLICATION with APPID w7")
    return specs


def _account(app: etree._Element, name_for: Callable[[str], str]) -> AccountSpec:
    server_id = _parm(app, "PROVIDER-ID")
    if not server_id:
        raise ValueError("APPLICATION has no PROVIDER-ID (the ServerID)")
    addr, addr_type, port = _parm(app, "ADDR"), "URI", None
    for appaddr in _characteristics(app, "APPADDR")[:1]:
        addr = _parm(appaddr, "ADDR") or addr
        cp_type = (_parm(appaddr, "ADDRTYPE") or "URI").upper()
        if cp_type not in _ADDRTYPE_FROM_CP:
            raise ValueError(f"ADDRTYPE {cp_type} has no DMAcc AddrType")
        addr_type = _ADDRTYPE_FROM_CP[cp_type]
        for cp_port in _characteristics(appaddr, "PORT")[:1]:
            number = _parm(cp_port, "PORTNBR")
            if not number.isdigit():
                raise ValueError(f"PORTNBR {number!r} is not a number")
            port = int(number)
    return AccountSpec(server_id=server_id, addr=addr, name=_parm(app, "NAME"),
                       addr_type=addr_type, port=port, acl=cp_acl(server_id),
                       node_name=name_for(server_id),
                       app_auth=tuple(_app_auth(a) for a in _characteristics(app, "APPAUTH")))


def _app_auth(appauth: etree._Element) -> AppAuth:
    cp_level = _parm(appauth, "AAUTHLEVEL").upper()
    if cp_level not in _LEVEL_FROM_CP:
        raise ValueError(f"AAUTHLEVEL {cp_level or '(missing)'} is not "
                         f"{'|'.join(_LEVEL_FROM_CP)}")
    data = _parm(appauth, "AAUTHDATA")
    try:
        nonce = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("AAUTHDATA is not base64") from None
    return AppAuth(level=_LEVEL_FROM_CP[cp_level], type=_parm(appauth, "AAUTHTYPE"),
                   name=_parm(appauth, "AAUTHNAME"), secret=_parm(appauth, "AAUTHSECRET"),
                   nonce=nonce)


def _characteristics(parent: etree._Element, type_: str) -> list[etree._Element]:
    return [c for c in parent if c.tag == "characteristic" and c.get("type") == type_]


def _parm(parent: etree._Element, name: str) -> str:
    """The first parm of that name directly inside `parent`, or ""."""
    for parm in parent:
        if parm.tag == "parm" and parm.get("name") == name:
            return parm.get("value", "")
    return ""


def build_document(spec: AccountSpec) -> etree._Element:
    """The account as a w7 provisioning document; ValueError for what w7 cannot carry."""
    unsupported = [what for what, present in (
        ("suppress_session", spec.suppress_session), ("acl", spec.acl),
        ("auth_pref", spec.auth_pref), ("node_name", spec.node_name)) if present]
    if unsupported:
        raise ValueError(f"CP (w7) cannot carry {', '.join(unsupported)}: use the DM profile")
    root = etree.Element("wap-provisioningdoc", version=CP_VERSION)
    app = _add_characteristic(root, "APPLICATION")
    _add_parm(app, "APPID", W7)
    _add_parm(app, "PROVIDER-ID", spec.server_id)
    if spec.name:
        _add_parm(app, "NAME", spec.name)
    appaddr = _add_characteristic(app, "APPADDR")
    _add_parm(appaddr, "ADDR", spec.addr)
    _add_parm(appaddr, "ADDRTYPE", _ADDRTYPE_TO_CP[spec.addr_type])
    if spec.port is not None:
        _add_parm(_add_characteristic(appaddr, "PORT"), "PORTNBR", str(spec.port))
    for auth in spec.app_auth:
        if auth.level not in _LEVEL_TO_CP:
            raise ValueError(f"CP (w7) has no AAUTHLEVEL for {auth.level}")
        appauth = _add_characteristic(app, "APPAUTH")
        _add_parm(appauth, "AAUTHLEVEL", _LEVEL_TO_CP[auth.level])
        _add_parm(appauth, "AAUTHTYPE", AAuthType(auth.type).value)
        for name, value in (("AAUTHNAME", auth.name), ("AAUTHSECRET", auth.secret),
                            ("AAUTHDATA", base64.b64encode(auth.nonce).decode())):
            if value:
                _add_parm(appauth, name, value)
    return root


def _add_characteristic(parent: etree._Element, type_: str) -> etree._Element:
    return etree.SubElement(parent, "characteristic", type=type_)


def _add_parm(parent: etree._Element, name: str, value: str) -> None:
    etree.SubElement(parent, "parm", name=name, value=value)
