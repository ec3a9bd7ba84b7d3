"""XML elements inside Data (a TNDS MgmtTree, say): one canonical text for both codecs.

The text is exclusive canonical XML (C14N) of the elements, with the whitespace between
elements dropped, as libwbxml does. XML input, WBXML input (DDF tokens inline or an
embedded WBXML document) and `embed_xml` all land on the same text, so the models
compare equal whatever carried them.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from .errors import DecodeError, EncodeError
from .model import EmbeddedXml
from .wbxml_tables import DDF_NS, PLAIN_NAMESPACES, TAG_TOKENS

# No entities, no DTD, no network: the same guard as the message parser.
PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    remove_comments=True,
    remove_pis=True,
    huge_tree=False,
)


def _strip_blank(element: etree._Element) -> None:
    """Drop whitespace-only text between elements (not inside a leaf)."""
    for node in element.iter():
        if len(node):
            if node.text is not None and not node.text.strip():
                node.text = None
            for child in node:
                if child.tail is not None and not child.tail.strip():
                    child.tail = None


def _canonical(elements: Iterable[etree._Element]) -> EmbeddedXml:
    parts = []
    for element in elements:
        _strip_blank(element)
        parts.append(etree.tostring(element, method="c14n", exclusive=True, with_comments=False))
    return EmbeddedXml(b"".join(parts).decode("utf-8"))


def from_lxml(data: etree._Element) -> EmbeddedXml:
    """The children of a decoded XML <Data> element (errors carry its line number, which
    the XML codec turns into a byte offset)."""
    if (data.text and data.text.strip()) or any(child.tail and child.tail.strip() for child in data):
        raise DecodeError("<Data> mixes text and elements", data.sourceline)
    return _canonical(data)


def from_nodes(nodes: Iterable[tuple]) -> EmbeddedXml:
    """Element tuples decoded from WBXML (names plain for pages 0-1, Clark for DDF)."""
    holder = etree.Element("holder")
    for node in nodes:
        _append(holder, node)
    return _canonical(holder)


def _append(parent: etree._Element, node: tuple) -> None:
    name, value, children = node[0], node[1], node[2]
    if name[0] == "{":
        namespace = name[1:name.index("}")]
    else:
        namespace = PLAIN_NAMESPACES[name]
        name = f"{{{namespace}}}{name}"
    if etree.QName(parent).namespace == namespace:
        element = etree.SubElement(parent, name)
    else:
        element = etree.SubElement(parent, name, nsmap={None: namespace})
    if value is not None:
        if value.__class__ is bytes:
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                raise DecodeError(f"binary data in embedded <{etree.QName(name).localname}>", node[3]) from None
        elif value.__class__ is not str:
            raise DecodeError("a WBXML document nested inside embedded XML", node[3])
        if not children or value.strip():
            try:
                element.text = value
            except ValueError as exc:  # characters XML cannot hold
                raise DecodeError(f"embedded XML: {exc}", node[3]) from None
    for child in children:
        _append(element, child)


def _parse(xml: str | bytes) -> list[etree._Element]:
    text = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        holder = etree.fromstring(b"<holder>" + text + b"</holder>", PARSER)
    except (etree.LxmlError, ValueError) as exc:
        raise EncodeError(f"embedded XML is not well-formed: {exc}") from None
    return list(holder)


def embed_xml(xml: str | bytes) -> EmbeddedXml:
    """Put XML text (e.g. a TNDS document's MgmtTree) into Data, canonicalised."""
    elements = _parse(xml)
    if not elements:
        raise EncodeError("embedded XML holds no element")
    return _canonical(elements)


def canonical_text(embedded: EmbeddedXml) -> str:
    """The text the XML encoder writes: re-parsed, so that it is always well-formed."""
    return embed_xml(embedded.xml).xml


def to_nodes(embedded: EmbeddedXml) -> tuple:
    """The single root of embedded XML as element tuples named for the WBXML tables."""
    elements = _parse(embedded.xml)
    if len(elements) != 1:
        raise EncodeError("WBXML can embed exactly one XML root element in Data")
    return _to_node(elements[0])


def _to_node(element: etree._Element) -> tuple:
    qname = etree.QName(element)
    if qname.namespace == DDF_NS and element.tag in TAG_TOKENS:
        name = element.tag
    elif PLAIN_NAMESPACES.get(qname.localname) == qname.namespace:
        name = qname.localname
    else:
        raise EncodeError(f"no WBXML token for embedded element {element.tag}")
    if element.attrib:
        raise EncodeError(f"WBXML cannot carry the attributes of embedded {element.tag}")
    if any(child.tail and child.tail.strip() for child in element):
        raise EncodeError(f"WBXML cannot carry the mixed content of embedded {element.tag}")
    children = tuple(_to_node(child) for child in element)
    text = element.text if element.text and (not children or element.text.strip()) else None
    return (name, text, children)
