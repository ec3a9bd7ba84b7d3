"""TNDS (OMA DM Tree and Description Serialization) documents: safe import, exact export.

Import accepts both the nested form (Node inside Node) and the Path-continued form (a
top-level Node whose Path names its parent), with or without the `syncml:dmddf1.2`
namespace. A top-level Node named `.` is the root itself, which is how an export carries
the root's ACL. DFProperties/AccessType and DFProperties/Scope mark which commands a node
allows and which nodes are permanent, as a DDF would.

Export is deterministic, so exporting, loading the export as a profile and exporting
again gives the same bytes; the canonical form leaves out TStamp and VerNo, and its
SHA-256 is the tree digest that delegation rollback is checked against.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Iterable

from lxml import etree

from dmclient.tree.formats import BINARY, LEAF_FORMATS, NODE, FormatError, normalize
from dmclient.tree.node import ACCESS_TYPES, Node
from dmclient.tree.uri import (ROOT, UriError, child_path, name_of, parent_path, parse as
                               parse_uri, to_uri, validate_name)

NAMESPACE = "syncml:dmddf1.2"
MAX_DOCUMENT = 16 * 1024 * 1024
MAX_DEPTH = 64

#: Everything an export may carry; DF stands for the DFProperties (AccessType, Scope).
ALL = frozenset({"ACL", "Format", "Name", "Size", "Title", "TStamp", "Type", "VerNo", "Value"})
FULL = frozenset({"ACL", "Format", "Title", "TStamp", "Type", "VerNo", "Value", "DF",
                  "Runtime"})
#: The digest form: no TStamp or VerNo, and no runtime bookkeeping values (see runtime_value).
CANONICAL = FULL - {"TStamp", "VerNo", "Runtime"}
BOOTSTRAP_STATE = "./Vendor/DMLab/Bootstrap/State"
_RT_ORDER = ("ACL", "Format", "Name", "Size", "Title", "TStamp", "Type", "VerNo")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True, remove_pis=True)


class TndsError(ValueError):
    """A TNDS document that cannot be loaded; nothing was applied."""


@dataclass(frozen=True, slots=True)
class TndsEntry:
    """One node of a document: where it goes, and what it says about it."""

    path: str
    node: Node
    given: frozenset[str]  # the properties the document set (and "Value", "DF")


def parse(data: bytes, *, base: str = ROOT, max_size: int = MAX_DOCUMENT) -> list[TndsEntry]:
    """Parse a TNDS document into entries, parents before children."""
    if len(data) > max_size:
        raise TndsError(f"document is {len(data)} bytes, over the {max_size}-byte limit")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise TndsError(f"not well-formed XML: {exc}") from None
    doc = root.getroottree().docinfo
    if doc.internalDTD is not None or doc.doctype or doc.system_url:
        raise TndsError("DTDs and entity declarations are not allowed in TNDS")
    if _local(root) != "MgmtTree":
        raise TndsError(f"root element is <{_local(root)}>, expected <MgmtTree>")
    entries: list[TndsEntry] = []
    for el in _children(root, "Node"):
        _visit(el, None, base, entries, 1)
    seen: set[str] = set()
    for entry in entries:
        if entry.path in seen:
            raise TndsError(f"node {entry.path} appears twice")
        seen.add(entry.path)
    return entries


def _visit(el: etree._Element, parent: str | None, base: str, out: list[TndsEntry],
           depth: int) -> None:
    if depth > MAX_DEPTH:
        raise TndsError(f"nodes nested deeper than {MAX_DEPTH}")
    name = _raw(_child(el, "NodeName"))
    path_el = _child(el, "Path")
    try:
        if parent is None and name == "." and path_el is None:
            path = ROOT
        else:
            if parent is None:
                parent = parse_uri(_text(path_el)).path if path_el is not None else base
            if not name:
                raise TndsError(f"unnamed <X> placeholder node under {parent}")
            validate_name(name)
            path = child_path(parent, name)
    except UriError as exc:
        raise TndsError(f"bad node name or Path: {exc}") from None
    node, given = _node(el, path)
    out.append(TndsEntry(path, node, given))
    subnodes = _children(el, "Node")
    if subnodes and not node.interior:
        raise TndsError(f"leaf {path} has child nodes")
    for sub in subnodes:
        _visit(sub, path, base, out, depth + 1)


def _node(el: etree._Element, path: str) -> tuple[Node, frozenset[str]]:
    given: set[str] = set()
    fields: dict[str, object] = {}
    rt = _child(el, "RTProperties")
    if rt is not None:
        for prop in rt:
            if not isinstance(prop.tag, str):
                continue
            name = _local(prop)
            given.add(name)
            if name == "ACL":
                fields["acl"] = _text(prop)
            elif name == "Format":
                kinds = [_local(c) for c in prop if isinstance(c.tag, str)]
                if len(kinds) != 1:
                    raise TndsError(f"{path}: Format must hold exactly one format element")
                fields["format"] = kinds[0]
            elif name == "Title":
                fields["title"] = _raw(prop)
            elif name == "TStamp":
                fields["tstamp"] = _text(prop) or None
            elif name == "VerNo":
                try:
                    fields["verno"] = int(_text(prop) or "0") & 0xFFFF
                except ValueError:
                    raise TndsError(f"{path}: VerNo is not a number") from None
            elif name == "Type":
                kinds = [c for c in prop if isinstance(c.tag, str)]
                fields["type"] = _raw(kinds[0]) if kinds else _raw(prop)
    df = _child(el, "DFProperties")
    if df is not None:
        given.add("DF")
        access = _child(df, "AccessType")
        if access is not None:
            names = {_local(c) for c in access if isinstance(c.tag, str)}
            unknown = names - set(ACCESS_TYPES)
            if unknown:
                raise TndsError(f"{path}: unknown AccessType {sorted(unknown)}")
            fields["access"] = frozenset(names)
        scope = _child(df, "Scope")
        if scope is not None:
            fields["permanent"] = any(_local(c) == "Permanent" for c in scope
                                      if isinstance(c.tag, str))
    value_el = _child(el, "Value")
    has_children = bool(_children(el, "Node"))
    fmt = fields.get("format") or (NODE if value_el is None or has_children else "chr")
    if fmt not in LEAF_FORMATS and fmt != NODE:
        raise TndsError(f"{path}: unknown format {fmt!r}")
    raw = None
    if value_el is not None:
        given.add("Value")
        raw = _raw(value_el)
        if fmt == NODE:
            raise TndsError(f"interior node {path} has a Value")
    try:
        value, stored = normalize(raw, "b64" if fmt in BINARY else fmt)  # type: ignore[arg-type]
    except FormatError as exc:
        raise TndsError(f"{path}: {exc}") from None
    fields["format"], fields["value"] = stored, value
    return Node(**fields), frozenset(given)  # type: ignore[arg-type]


def export(nodes: Iterable[tuple[str, Node]], root: str = ROOT,
           props: frozenset[str] = FULL) -> bytes:
    """Serialize nodes (parents before children) as a TNDS document."""
    tree = etree.Element("MgmtTree", nsmap={None: NAMESPACE})
    etree.SubElement(tree, "VerDTD").text = "1.2"
    elements: dict[str, etree._Element] = {}
    for path, node in nodes:
        el = etree.Element("Node")
        etree.SubElement(el, "NodeName").text = "." if path == ROOT else name_of(path)
        parent = parent_path(path)
        if parent is not None and parent in elements:
            elements[parent].append(el)
        else:
            if parent is not None and parent != ROOT:
                etree.SubElement(el, "Path").text = to_uri(parent)
            tree.append(el)
        _properties(el, path, node, props)
        elements[path] = el
    return etree.tostring(tree, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def _properties(el: etree._Element, path: str, node: Node, props: frozenset[str]) -> None:
    values = {
        "ACL": node.acl or None,
        "Format": node.format,
        "Name": name_of(path) if path != ROOT else None,
        "Size": None if node.interior else str(node.size),
        "Title": node.title,
        "TStamp": node.tstamp,
        "Type": node.type or None,
        "VerNo": str(node.verno) if node.tstamp or node.verno else None,
    }
    rt = etree.SubElement(el, "RTProperties")
    for name in _RT_ORDER:
        value = values[name]
        if name not in props or value is None:
            continue
        prop = etree.SubElement(rt, name)
        if name == "Format":
            etree.SubElement(prop, value)
        elif name == "Type":
            etree.SubElement(prop, "DDFName" if node.interior else "MIME").text = value
        else:
            prop.text = value
    if not len(rt):
        el.remove(rt)
    if "DF" in props and (node.permanent or node.access is not None):
        df = etree.SubElement(el, "DFProperties")
        if node.access is not None:
            access = etree.SubElement(df, "AccessType")
            for command in ACCESS_TYPES:
                if command in node.access:
                    etree.SubElement(access, command)
        if node.permanent:
            etree.SubElement(etree.SubElement(df, "Scope"), "Permanent")
    if "Value" in props and not node.interior and node.value is not None and (
            "Runtime" in props or not runtime_value(path)):
        value = node.value
        text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
        etree.SubElement(el, "Value").text = text


def runtime_value(path: str) -> bool:
    """Values the handset rewrites as it runs, like TStamp and VerNo: the nonces in an
    account's AppAuth (every authenticated session moves them on) and the bootstrap State
    report. A rollback cannot and need not restore them, so the digest leaves them out."""
    parent = parent_path(path)
    grandparent = parent_path(parent) if parent else None
    return path == BOOTSTRAP_STATE or (name_of(path) == "AAuthData" and grandparent is not None
                                       and name_of(grandparent) == "AppAuth")


def digest(nodes: Iterable[tuple[str, Node]]) -> str:
    """SHA-256 of the canonical export (TStamp, VerNo and runtime values left out)."""
    return hashlib.sha256(export(nodes, ROOT, CANONICAL)).hexdigest()


def list_properties(modifiers: tuple[str, ...]) -> frozenset[str]:
    """The properties `?list=TNDS+P-P...` asks for: `+` builds up from none, `-` trims all."""
    if not modifiers:
        return ALL - {"Name", "Size", "TStamp", "VerNo"}
    selected = set() if modifiers[0][0] == "+" else set(ALL)
    for mod in modifiers:
        (selected.add if mod[0] == "+" else selected.discard)(mod[1:])
    return frozenset(selected)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and _local(c) == name]


def _child(el: etree._Element, name: str) -> etree._Element | None:
    found = _children(el, name)
    if len(found) > 1:
        raise TndsError(f"<{name}> appears {len(found)} times in one <{_local(el)}>")
    return found[0] if found else None


def _text(el: etree._Element | None) -> str:
    """Text of a structural element (ACL, Path, VerNo...), where spaces mean nothing."""
    return _raw(el).strip()


def _raw(el: etree._Element | None) -> str:
    """Text exactly as written: names, titles, types and values keep their spaces."""
    return "" if el is None else "".join(el.itertext())
