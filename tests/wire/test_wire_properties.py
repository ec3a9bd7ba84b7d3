"""Properties: random valid messages survive both codecs; mutated input only ever raises
DecodeError."""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmclient.wire import (
    Add,
    Alert,
    Anchor,
    Atomic,
    Body,
    Copy,
    Cred,
    DecodeError,
    Delete,
    Exec,
    Get,
    Header,
    Item,
    Location,
    Mem,
    Message,
    Meta,
    Replace,
    Results,
    Sequence,
    Status,
    decode,
    decode_wbxml,
    decode_xml,
    embed_xml,
    encode_wbxml,
    encode_xml,
)
from dmclient.wire.wbxml_tables import DDF_NS, TAG_TOKENS
from wire_support import CORPUS, CORPUS_XML

# No example database: the suite leaves no .hypothesis/ behind; a failure prints its example.
SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(SETTINGS, max_examples=300)

# Text XML can carry: no control characters but tab, LF, CR; no surrogates, U+FFFE, U+FFFF.
xml_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n\r", exclude_characters="\ufffe\uffff"),
    max_size=12,
)
# WBXML carries any Unicode string (NUL goes into OPAQUE).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
binary = st.binary(max_size=12).map(lambda raw: b"\xff" + raw)  # never valid UTF-8
size = st.integers(min_value=0, max_value=2**40)
ident = st.from_regex(r"[0-9A-F]{1,6}", fullmatch=True)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


def ddf_tree() -> st.SearchStrategy:
    """A small TNDS MgmtTree, as canonical EmbeddedXml."""
    names = sorted(name.split("}")[1] for name in TAG_TOKENS if name.startswith("{"))
    leaf = st.builds(lambda name, text: f"<{name}>{escape(text)}</{name}>", st.sampled_from(names), st.text("abc &<>é", min_size=1, max_size=6))
    tree = st.recursive(
        leaf,
        lambda children: st.builds(
            lambda name, parts: f"<{name}>{''.join(parts)}</{name}>", st.sampled_from(names), st.lists(children, min_size=1, max_size=3)
        ),
        max_leaves=6,
    )
    return st.lists(tree, max_size=3).map(lambda parts: embed_xml(f'<MgmtTree xmlns="{DDF_NS}">{"".join(parts)}</MgmtTree>'))


def messages(text: st.SearchStrategy, data: st.SearchStrategy) -> st.SearchStrategy:
    """Random valid messages whose strings come from `text` and Item Data from `data`."""
    ints = optional(size)
    anchor = st.builds(Anchor, next=text, last=optional(text))
    mem = st.builds(Mem, free_mem=ints, free_id=ints, shared_mem=st.booleans())
    meta = st.builds(
        Meta,
        format=optional(text),
        type=optional(st.sampled_from(["text/plain", "application/vnd.syncml.dmtnds+xml", "b64"])),
        mark=optional(text),
        size=ints,
        anchor=optional(anchor),
        version=optional(text),
        next_nonce=optional(text),
        max_msg_size=ints,
        max_obj_size=ints,
        emi=st.lists(text, max_size=2),
        mem=optional(mem),
        field_level=st.booleans(),
    )
    location = st.builds(Location, loc_uri=text, loc_name=optional(text))
    bare_location = st.builds(Location, loc_uri=text)
    cred = st.builds(Cred, data=text, meta=optional(meta))
    item = st.builds(
        Item,
        target=optional(location),
        source=optional(location),
        source_parent=optional(bare_location),
        target_parent=optional(bare_location),
        meta=optional(meta),
        data=optional(data),
        more_data=st.booleans(),
    )
    items = st.lists(item, max_size=3)
    refs = st.lists(text, max_size=2)
    common = {"cmd_id": ident, "meta": optional(meta), "cred": optional(cred), "no_resp": st.booleans(), "items": items}
    leaves = st.one_of(
        st.builds(Add, **common),
        st.builds(Copy, **common),
        st.builds(Replace, **common),
        st.builds(Delete, archive=st.booleans(), sft_del=st.booleans(), **common),
        st.builds(Get, lang=optional(text), **common),
        st.builds(Exec, cmd_id=ident, item=item, correlator=optional(text), meta=optional(meta), cred=optional(cred), no_resp=st.booleans()),
        st.builds(
            Alert,
            cmd_id=ident,
            code=st.sampled_from([1100, 1101, 1102, 1103, 1104, 1200, 1201, 1222, 1223, 1224, 1225, 1226, 1299]),
            correlator=optional(text),
            items=items,
            cred=optional(cred),
            no_resp=st.booleans(),
        ),
    )
    nested = st.recursive(
        leaves,
        lambda inner: st.builds(Atomic, cmd_id=ident, commands=st.lists(inner, max_size=3), meta=optional(meta), no_resp=st.booleans())
        | st.builds(Sequence, cmd_id=ident, commands=st.lists(inner, max_size=3), meta=optional(meta), no_resp=st.booleans()),
        max_leaves=4,
    )
    responses = st.builds(
        Results, cmd_id=ident, cmd_ref=ident, msg_ref=optional(ident), meta=optional(meta), target_refs=refs, source_refs=refs, items=items
    ) | st.builds(
        Status,
        cmd_id=ident,
        msg_ref=ident,
        cmd_ref=ident,
        cmd=st.sampled_from(["SyncHdr", "Get", "Alert"]),
        code=st.integers(min_value=100, max_value=599),
        target_refs=refs,
        source_refs=refs,
        cred=optional(cred),
        chal=optional(meta),
        items=items,
    )
    header = st.builds(
        Header,
        session_id=text,
        msg_id=ident,
        target=location,
        source=location,
        ver_dtd=st.sampled_from(["1.2", "1.1"]),
        ver_proto=st.sampled_from(["DM/1.2", "DM/1.1"]),
        resp_uri=optional(text),
        no_resp=st.booleans(),
        cred=optional(cred),
        meta=optional(meta),
    )
    body = st.builds(Body, commands=st.lists(nested | responses, max_size=4), final=st.booleans())
    return st.builds(Message, header=header, body=body)


@SETTINGS
@given(messages(xml_text, xml_text | ddf_tree()))
def test_model_xml_model_and_both_codecs_agree(message: Message) -> None:
    assert decode_xml(encode_xml(message)) == message
    assert encode_xml(decode_wbxml(encode_wbxml(message))) == encode_xml(message)


@SETTINGS
@given(messages(any_text, any_text | binary | ddf_tree()))
def test_model_wbxml_model(message: Message) -> None:
    assert decode_wbxml(encode_wbxml(message)) == message


SAMPLES = [path.read_bytes() for path in CORPUS_XML] + [
    (CORPUS / f"{path.stem}.libwbxml.wbxml").read_bytes() for path in CORPUS_XML
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus message (XML or WBXML) with a few bit flips, insertions, deletions or a cut."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "overwrite"]))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=6))
        elif action == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=8))]
        elif action == "truncate":
            del data[position:]
        else:
            data[position : position + 4] = draw(st.sampled_from([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00", b"\x83\x7f", b"\xc3\x8f"]))
    return bytes(data)


def decodes_or_refuses(data: bytes) -> None:
    for decoder in (decode, decode_xml, decode_wbxml):
        try:
            decoder(data)
        except DecodeError:
            pass


@FUZZ
@given(mutated())
def test_mutated_input_only_raises_decode_error(data: bytes) -> None:
    decodes_or_refuses(data)


@SETTINGS
@given(st.binary(max_size=64).map(lambda raw: b"\x02\xa4\x01\x6a\x00\x6d" + raw) | st.binary(max_size=200))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    decodes_or_refuses(data)
