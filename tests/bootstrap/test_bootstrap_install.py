"""Verify and apply, without a network: the DM profile (built here, real WBXML) and the
CP profile (XML and WBXML), all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from bootstrap_support import (DEV_ID, OTHER_DEV_ID, PIN, SOURCE, dms2_account, handset_tree,
                               snapshot)
from lxml import etree

from dmclient.bootstrap import (CP_WBXML, CP_XML, DM_WBXML, BootstrapError, Profile, SecType,
                                Secrets, build_cp_document, build_message, install, sign)
from dmclient.bootstrap import cp_wbxml
from dmclient.tree import TreeStore, load_profile
from dmclient.tree.accounts import find_account
from dmclient.wire import (Add, Body, Delete, Header, Item, Location, Message, Meta, Replace,
                           decode, encode_wbxml, encode_xml)

SECRETS = Secrets(pin=PIN)


def signed(body: bytes, media_type: str = DM_WBXML, sec: SecType = SecType.USERPIN) -> str:
    return str(sign(body, media_type, sec, SECRETS).content_type)


def message(*commands: object, target: str = DEV_ID) -> Message:
    header = Header(session_id="0", msg_id="1", target=Location(loc_uri=target),
                    source=Location(loc_uri=SOURCE))
    return Message(header=header, body=Body(commands=list(commands), final=True))


def test_builder_verify_apply_round_trip() -> None:
    tree = handset_tree()
    spec = dms2_account(suppress_session=True)
    body = build_message(spec, dev_id=DEV_ID, source=SOURCE)
    sent = decode(body)
    assert (sent.header.ver_dtd, sent.header.session_id, sent.header.msg_id) == ("1.2", "0", "1")
    assert sent.header.target.loc_uri == DEV_ID and sent.header.source.loc_uri == SOURCE
    assert sent.body.final and len(sent.body.commands) == 1
    add = sent.body.commands[0]
    assert isinstance(add, Add) and add.items[0].meta.type == "application/vnd.syncml.dmtnds+xml"

    installed = install(tree, body, signed(body), SECRETS)

    assert installed.profile is Profile.DM and installed.server_ids == ("dms2",)
    account = find_account(tree, "dms2")
    assert account is not None and account.path == "./DMAcc/dms2"
    assert (account.addr, account.port, account.name) == (spec.addr, 8445, spec.name)
    assert account.suppress_session is True
    client, server = account.client_credential, account.server_credential
    assert (client.type, client.name, client.secret, client.data) == \
        ("DIGEST", DEV_ID, "handset-secret-2", b"client-nonce-2")
    assert (server.name, server.secret, server.data) == ("dms2", "dms2-secret", b"server-nonce-2")
    assert tree.node("./DMAcc/dms2").acl == "Add=dms2&Delete=dms2&Get=dms2&Replace=dms2"
    # The ACL the message carried is in force: dms2 manages its account, dms1 does not.
    assert tree.get("./DMAcc/dms2/Name", "dms2").ok
    assert not tree.get("./DMAcc/dms2/Name", "dms1").ok


def test_a_custom_acl_is_taken_as_sent() -> None:
    tree = handset_tree()
    body = build_message(dms2_account(acl="Get=dms1+dms2&Replace=dms2"), dev_id=DEV_ID,
                         source=SOURCE)
    install(tree, body, signed(body), SECRETS)
    assert tree.node("./DMAcc/dms2").acl == "Get=dms1+dms2&Replace=dms2"
    assert tree.get("./DMAcc/dms2/Name", "dms1").ok


def test_plain_leaf_adds_and_an_acl_replace_apply_with_device_authority() -> None:
    tree = handset_tree()
    base = "./DMAcc/plain"
    body = encode_wbxml(message(
        Add(cmd_id="1", items=[Item(target=Location(loc_uri=base), meta=Meta(format="node"))]),
        Add(cmd_id="2", items=[
            Item(target=Location(loc_uri=f"{base}/AppID"), data="w7"),
            Item(target=Location(loc_uri=f"{base}/ServerID"), data="plain"),
            Item(target=Location(loc_uri=f"{base}/AppAddr/1/Addr"), data="https://x/dm")]),
        Replace(cmd_id="3", items=[Item(target=Location(loc_uri=f"{base}?prop=ACL"),
                                        data="Get=plain&Replace=plain")])))
    assert install(tree, body, signed(body), SECRETS).server_ids == ("plain",)
    assert tree.node(base).acl == "Get=plain&Replace=plain"
    assert find_account(tree, "plain").addr == "https://x/dm"


def refuse(tree, body: bytes, content_type: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(tree)
    with pytest.raises(BootstrapError, match=reason):
        install(tree, body, content_type, SECRETS)
    assert snapshot(tree) == before


def test_refusals_leave_the_tree_unchanged() -> None:
    tree = handset_tree()
    body = build_message(dms2_account(), dev_id=DEV_ID, source=SOURCE)
    content_type = signed(body)
    refuse(tree, body, content_type.replace("SEC=1", "SEC=0"), "needs the IMSI")
    refuse(tree, body, str(sign(body, DM_WBXML, SecType.USERPIN, Secrets(pin="9999"))
                           .content_type), "MAC mismatch")
    refuse(tree, body[:len(body) // 2], content_type, "MAC mismatch")
    refuse(tree, body[:len(body) // 2], signed(body[:len(body) // 2]), "malformed bootstrap")
    refuse(tree, body, DM_WBXML, "not signed")
    refuse(tree, body, f"application/vnd.syncml.dm+xml; SEC=1; MAC={'0' * 40}",
           "unsupported bootstrap media type")
    xml = encode_xml(decode(body))
    refuse(tree, xml, signed(xml), "must be WBXML")
    other = build_message(dms2_account(), dev_id=OTHER_DEV_ID, source=SOURCE)
    refuse(tree, other, signed(other),
           f"addressed to {OTHER_DEV_ID}, and this handset is {DEV_ID}")


def test_commands_other_than_add_and_replace_are_refused() -> None:
    tree = handset_tree()
    body = encode_wbxml(message(Delete(cmd_id="1", items=[
        Item(target=Location(loc_uri="./DMAcc/dms1"))])))
    refuse(tree, body, signed(body), "may only Add or Replace; it carries Delete")


def test_one_failing_add_undoes_the_ones_before_it() -> None:
    tree = handset_tree()
    good = Add(cmd_id="1", items=[Item(target=Location(loc_uri="./DMAcc/x"),
                                       meta=Meta(format="node"))])
    clash = Add(cmd_id="2", items=[Item(target=Location(loc_uri="./DMAcc/dms1/ServerID"),
                                        data="evil")])
    body = encode_wbxml(message(good, clash))
    refuse(tree, body, signed(body), r"Add ./DMAcc/dms1/ServerID failed with 418")
    assert tree.node("./DMAcc/x") is None


def test_an_account_for_a_known_server_id_is_refused() -> None:
    tree = handset_tree()
    body = build_message(dms2_account(server_id="dms1", node_name="again"), dev_id=DEV_ID,
                         source=SOURCE)
    refuse(tree, body, signed(body), "already has an account for ServerID 'dms1'")


# ---------------------------------------------------------------------- CP profile

CP_DOCUMENT = b"""<?xml version="1.0"?>
<wap-provisioningdoc version="1.1">
  <characteristic type="NAPDEF"><parm name="NAPID" value="internet"/></characteristic>
  <characteristic type="APPLICATION">
    <parm name="APPID" value="w2"/><parm name="NAME" value="a browser"/>
  </characteristic>
  <characteristic type="APPLICATION">
    <parm name="APPID" value="w7"/>
    <parm name="PROVIDER-ID" value="cp-server"/>
    <parm name="NAME" value="CP provisioned server"/>
    <parm name="TO-NAPID" value="internet"/>
    <characteristic type="APPADDR">
      <parm name="ADDR" value="https://127.0.0.1:9443/dm"/>
      <parm name="ADDRTYPE" value="URI"/>
      <characteristic type="PORT"><parm name="PORTNBR" value="9443"/></characteristic>
    </characteristic>
    <characteristic type="APPAUTH">
      <parm name="AAUTHLEVEL" value="APPSRV"/>
      <parm name="AAUTHTYPE" value="DIGEST"/>
      <parm name="AAUTHNAME" value="IMEI:358240051111110"/>
      <parm name="AAUTHSECRET" value="client-pass"/>
      <parm name="AAUTHDATA" value="Y2xpZW50LW5vbmNl"/>
    </characteristic>
    <characteristic type="APPAUTH">
      <parm name="AAUTHLEVEL" value="CLIENT"/>
      <parm name="AAUTHTYPE" value="HMAC"/>
      <parm name="AAUTHNAME" value="cp-server"/>
      <parm name="AAUTHSECRET" value="server-pass"/>
      <parm name="AAUTHDATA" value="c2VydmVyLW5vbmNl"/>
    </characteristic>
  </characteristic>
</wap-provisioningdoc>
"""


@pytest.mark.parametrize("encoding", ["xml", "wbxml"])
def test_cp_w7_maps_to_a_dmacc_account(encoding: str) -> None:
    tree = handset_tree()
    if encoding == "xml":
        body, media_type = CP_DOCUMENT, CP_XML
    else:
        body, media_type = cp_wbxml.encode(etree.fromstring(CP_DOCUMENT)), CP_WBXML
    installed = install(tree, body, signed(body, media_type, SecType.USERPIN), SECRETS)
    assert installed.profile is Profile.CP and installed.server_ids == ("cp-server",)
    account = find_account(tree, "cp-server")
    assert account.path == "./DMAcc/cp-server"
    assert (account.name, account.addr, account.addr_type, account.port) == \
        ("CP provisioned server", "https://127.0.0.1:9443/dm", "URI", 9443)
    # AAUTHLEVEL APPSRV is how the client authenticates (CLCRED), CLIENT the server (SRVCRED).
    client, server = account.client_credential, account.server_credential
    assert (client.type, client.name, client.secret, client.data) == \
        ("DIGEST", DEV_ID, "client-pass", b"client-nonce")
    assert (server.type, server.name, server.secret, server.data) == \
        ("HMAC", "cp-server", "server-pass", b"server-nonce")
    # The client names <X> and grants the ServerID Get, Replace and Delete on it.
    assert tree.node("./DMAcc/cp-server").acl == \
        "Delete=cp-server&Get=cp-server&Replace=cp-server"
    assert account.suppress_session is False


def test_cp_with_the_standard_doctype_is_read() -> None:
    doctype = (b'<!DOCTYPE wap-provisioningdoc PUBLIC "-//WAPFORUM//DTD PROV 1.0//EN" '
               b'"http://www.wapforum.org/DTD/prov.dtd">')
    body = CP_DOCUMENT.replace(b'<?xml version="1.0"?>', doctype)
    tree = handset_tree()
    assert install(tree, body, signed(body, CP_XML), SECRETS).server_ids == ("cp-server",)


def test_cp_picks_another_node_name_when_the_server_id_is_taken() -> None:
    tree = handset_tree()
    assert tree.add("./DMAcc/cp-server", format="node").ok  # not an account, but the name is used
    install(tree, CP_DOCUMENT, signed(CP_DOCUMENT, CP_XML), SECRETS)
    assert find_account(tree, "cp-server").path == "./DMAcc/acc1"


def test_cp_wbxml_round_trips_and_matches_libwbxml_tokens() -> None:
    root = etree.fromstring(CP_DOCUMENT, etree.XMLParser(remove_blank_text=True))
    encoded = cp_wbxml.encode(root)
    assert encoded[:4] == bytes([0x03, 0x0B, 0x6A, 0x00])  # WBXML 1.3, PROV 1.0, UTF-8
    # <characteristic type="APPLICATION"> is tag 0x06 with attributes and content, then
    # attribute page 1, token 0x55.
    assert bytes([0xC6, 0x00, 0x01, 0x55, 0x01]) in encoded
    assert etree.tostring(cp_wbxml.decode(encoded)) == etree.tostring(root)


def test_cp_built_by_the_server_installs_as_the_same_account() -> None:
    tree, via_dm = handset_tree(), handset_tree()
    spec = dms2_account(auth_pref="")  # w7 has no AAuthPref
    body = cp_wbxml.encode(build_cp_document(spec))
    install(tree, body, signed(body, CP_WBXML), SECRETS)
    dm = build_message(spec, dev_id=DEV_ID, source=SOURCE)
    install(via_dm, dm, signed(dm), SECRETS)
    cp_account, dm_account = find_account(tree, "dms2"), find_account(via_dm, "dms2")
    assert cp_account == dm_account


@pytest.mark.parametrize("document, reason", [
    (b"<wap-provisioningdoc/>", "no APPLICATION with APPID w7"),
    (b"<provisioning/>", "expected <wap-provisioningdoc>"),
    (b"<wap-provisioningdoc><characteristic", "malformed CP bootstrap"),
    (b'<wap-provisioningdoc><characteristic type="APPLICATION"><parm name="APPID" value="w7"/>'
     b'</characteristic></wap-provisioningdoc>', "no PROVIDER-ID"),
    (b"\x03\x0b\x6a\x00\xc6\x00\x01", "malformed CP bootstrap: truncated"),
    (b'<!DOCTYPE w [<!ENTITY a "b">]><wap-provisioningdoc>&a;</wap-provisioningdoc>',
     "internal subset is not allowed"),
])
def test_bad_cp_documents_are_refused(document: bytes, reason: str) -> None:
    refuse(handset_tree(), document, signed(document, CP_XML), reason)


def test_cp_cannot_carry_what_only_the_dm_profile_has() -> None:
    with pytest.raises(ValueError, match="cannot carry suppress_session, acl"):
        build_cp_document(dms2_account(suppress_session=True, acl="Get=dms2"))


def test_an_install_is_stored_whole_and_a_refusal_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "handset.sqlite"
    with TreeStore(path, create=True) as store:
        tree = store.new_handset("h1", load_profile("default"))
        good = build_message(dms2_account(), dev_id=DEV_ID, source=SOURCE)
        bad = build_message(dms2_account(server_id="dms3"), dev_id=OTHER_DEV_ID, source=SOURCE)
        install(tree, good, signed(good), SECRETS)
        with pytest.raises(BootstrapError):
            install(tree, bad, signed(bad), SECRETS)
    with TreeStore(path) as store:
        reopened = store.open_handset("h1")
        assert find_account(reopened, "dms2").server_credential.secret == "dms2-secret"
        assert find_account(reopened, "dms3") is None
        assert reopened.digest() == tree.digest()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_signed_garbage_is_a_bootstrap_error_and_changes_nothing(data: st.DataObject) -> None:
    """A server that signs whatever it has (cut, flipped, spliced) cannot crash the handset
    or leave half an account behind: the MAC passes, the parsers must hold."""
    dm = build_message(dms2_account(), dev_id=DEV_ID, source=SOURCE)
    cp = cp_wbxml.encode(etree.fromstring(CP_DOCUMENT, etree.XMLParser(remove_blank_text=True)))
    original, media_type = data.draw(st.sampled_from([(dm, DM_WBXML), (cp, CP_WBXML)]))
    body = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            body[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del body[at:at + data.draw(st.integers(1, 16))]
        else:
            body[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        if not body:
            body = bytearray(b"\x03")
    tree = handset_tree()
    before = snapshot(tree)
    try:
        install(tree, bytes(body), signed(bytes(body), media_type), SECRETS)
    except BootstrapError:
        assert snapshot(tree) == before
