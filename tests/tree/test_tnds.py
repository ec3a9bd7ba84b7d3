"""TNDS import and export: both document forms, exact round trips, the canonical digest."""

from __future__ import annotations

import pytest

from dmclient.tree import Profile, ProfileError, Tree, load_profile, tnds
from dmclient.tree.profile import TREES_DIR
from dmclient.wire.status import StatusCode as S

NESTED = b"""<?xml version="1.0"?>
<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD>
  <Node><NodeName>Acc</NodeName>
    <RTProperties><ACL>Get=s1&amp;Replace=s1</ACL><Format><node/></Format>
      <Type><DDFName>urn:x</DDFName></Type></RTProperties>
    <Node><NodeName>Name</NodeName><RTProperties><Format><chr/></Format>
      <Title>a title</Title></RTProperties><Value>  spaced  </Value></Node>
    <Node><NodeName>Blob</NodeName><RTProperties><Format><b64/></Format></RTProperties>
      <Value>AAEC</Value></Node>
    <Node><NodeName>Count</NodeName><RTProperties><Format><int/></Format>
      <Type><MIME>text/plain</MIME></Type></RTProperties><Value>42</Value></Node>
  </Node>
</MgmtTree>"""

PATH_FORM = b"""<MgmtTree><VerDTD>1.2</VerDTD>
  <Node><NodeName>Acc</NodeName><RTProperties><ACL>Get=s1&amp;Replace=s1</ACL>
    <Format><node/></Format><Type><DDFName>urn:x</DDFName></Type></RTProperties></Node>
  <Node><NodeName>Name</NodeName><Path>./Acc</Path><RTProperties><Format><chr/></Format>
    <Title>a title</Title></RTProperties><Value>  spaced  </Value></Node>
  <Node><NodeName>Blob</NodeName><Path>Acc</Path><RTProperties><Format><bin/></Format>
    </RTProperties><Value>AAEC</Value></Node>
  <Node><NodeName>Count</NodeName><Path>./Acc</Path><RTProperties><Format><int/></Format>
    <Type><MIME>text/plain</MIME></Type></RTProperties><Value>42</Value></Node>
</MgmtTree>"""


def test_nested_and_path_forms_load_to_the_same_nodes() -> None:
    nested = Profile.from_tnds(NESTED, "nested")
    path_form = Profile.from_tnds(PATH_FORM, "path")
    assert nested.nodes == path_form.nodes
    assert nested.digest == path_form.digest
    acc = nested.nodes["./Acc"]
    assert acc.interior and acc.acl == "Get=s1&Replace=s1" and acc.type == "urn:x"
    assert acc.children == ("Name", "Blob", "Count")
    assert nested.nodes["./Acc/Name"].value == "  spaced  "
    assert nested.nodes["./Acc/Name"].title == "a title"
    assert nested.nodes["./Acc/Blob"].value == b"\x00\x01\x02"
    assert nested.nodes["./Acc/Blob"].format == "bin"
    assert nested.nodes["."].acl == "Add=*&Get=*"  # the root default, made explicit


def test_export_load_export_is_byte_identical() -> None:
    tree = Tree(load_profile("default"), clock=lambda: 1_700_000_000.0)
    assert tree.replace("./Vendor/DMLab/Settings/Greeting", None, value="x").ok
    assert tree.add("./Vendor/DMLab/Apps/a/b", None, value="AAE=", format="b64").ok
    for canonical in (False, True):
        first = tree.export(canonical=canonical)
        again = Tree(Profile.from_tnds(first, "again")).export(canonical=canonical)
        assert again == first


def test_canonical_export_leaves_out_tstamp_and_verno() -> None:
    profile = load_profile("default")
    a = Tree(profile, clock=lambda: 1_000_000_000.0)
    b = Tree(profile, clock=lambda: 2_000_000_000.0)
    for tree in (a, b):
        assert tree.replace("./Vendor/DMLab/Settings/Greeting", None, value="same").ok
    assert a.export() != b.export()
    assert b"<TStamp>" in a.export() and b"<TStamp>" not in a.export(canonical=True)
    assert a.digest() == b.digest() != profile.digest
    # Changing and restoring a value gives the digest from before.
    assert a.replace("./Vendor/DMLab/Settings/Greeting", None, value="Hello from dmlab").ok
    assert a.digest() == profile.digest


def test_the_digest_sees_acl_changes(tree: Tree) -> None:
    before = tree.digest()
    assert tree.replace("./Vendor/DMLab?prop=ACL", None, value="Get=*").ok
    assert tree.digest() != before


def test_dfproperties_round_trip() -> None:
    profile = load_profile("default")
    secret = profile.nodes["./DMAcc/dms1/AppAuth/ClientSide/AAuthSecret"]
    assert secret.access == frozenset({"Add", "Replace"}) and not secret.permanent
    assert profile.nodes["./DevInfo/DevId"].permanent
    exported = Tree(profile).export()
    reloaded = Profile.from_tnds(exported, "again")
    assert reloaded.nodes == profile.nodes


def test_apply_tnds_adds_a_subtree_all_or_nothing(tree: Tree) -> None:
    entries = tnds.parse(NESTED, base="./Vendor/DMLab/Apps")
    assert [e.path for e in entries][0] == "./Vendor/DMLab/Apps/Acc"
    assert tree.apply_tnds(entries, "dms1").ok
    assert tree.get("./Vendor/DMLab/Apps/Acc/Count").value == "42"
    assert tree.get("./Vendor/DMLab/Apps/Acc?prop=ACL").value == "Get=s1&Replace=s1"
    before = tree.export()
    # The same document again: the existing leaves make it a 418, and nothing changes.
    assert tree.apply_tnds(entries, "dms1").status == S.ALREADY_EXISTS
    assert tree.export() == before


def test_apply_tnds_checks_acls_for_a_server(tree: Tree) -> None:
    before = tree.export()
    entries = tnds.parse(NESTED, base="./Vendor/DMLab/Apps")
    assert tree.apply_tnds(entries, "dms2").status == S.PERMISSION_DENIED
    assert tree.export() == before


def test_merge_updates_existing_nodes(tree: Tree) -> None:
    doc = b"""<MgmtTree><VerDTD>1.2</VerDTD>
      <Node><NodeName>Vendor</NodeName>
        <Node><NodeName>DMLab</NodeName>
          <Node><NodeName>Settings</NodeName>
            <Node><NodeName>Greeting</NodeName><Value>merged</Value></Node>
            <Node><NodeName>New</NodeName><Value>n</Value></Node>
          </Node>
        </Node>
      </Node></MgmtTree>"""
    assert tree.apply_tnds(tnds.parse(doc), merge=True).ok
    assert tree.get("./Vendor/DMLab/Settings/Greeting").value == "merged"
    assert tree.get("./Vendor/DMLab/Settings/New").value == "n"
    # Containers passed through keep their ACLs.
    assert tree.get("./Vendor/DMLab?prop=ACL").value.startswith("Add=dms1")


@pytest.mark.parametrize("doc, message", [
    (b"not xml", "well-formed"),
    (b"<Other/>", "expected <MgmtTree>"),
    (b"<MgmtTree><Node><NodeName>a</NodeName><RTProperties><Format><chr/></Format>"
     b"</RTProperties><Value>1</Value><Node><NodeName>b</NodeName></Node></Node></MgmtTree>",
     "has child nodes"),
    (b"<MgmtTree><Node><NodeName>a</NodeName><RTProperties><Format><bignum/></Format>"
     b"</RTProperties><Value>1</Value></Node></MgmtTree>", "unknown format"),
    (b"<MgmtTree><Node><NodeName>a</NodeName><RTProperties><Format><node/></Format>"
     b"</RTProperties><Value>1</Value></Node></MgmtTree>", "has a Value"),
    (b"<MgmtTree><Node><NodeName>a</NodeName></Node><Node><NodeName>a</NodeName></Node>"
     b"</MgmtTree>", "appears twice"),
    (b"<MgmtTree><Node><NodeName></NodeName></Node></MgmtTree>", "placeholder"),
    (b"<MgmtTree><Node><NodeName>a</NodeName><Path>../x</Path></Node></MgmtTree>", "Path"),
    (b"<MgmtTree><Node><NodeName>a</NodeName><RTProperties><Format><int/></Format>"
     b"</RTProperties><Value>x</Value></Node></MgmtTree>", "32-bit"),
    (b'<!DOCTYPE MgmtTree [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
     b"<MgmtTree><Node><NodeName>a</NodeName><Value>&b;</Value></Node></MgmtTree>", "DTD"),
    (b'<!DOCTYPE MgmtTree [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
     b"<MgmtTree><Node><NodeName>a</NodeName><Value>&e;</Value></Node></MgmtTree>", "DTD"),
])
def test_bad_documents_are_refused_with_a_reason(doc: bytes, message: str) -> None:
    with pytest.raises(tnds.TndsError, match=message):
        tnds.parse(doc)


def test_oversized_document_is_refused() -> None:
    with pytest.raises(tnds.TndsError, match="limit"):
        tnds.parse(b" " * 100, max_size=50)


def test_profile_structure_errors() -> None:
    orphan = b"<MgmtTree><Node><NodeName>b</NodeName><Path>./a</Path></Node></MgmtTree>"
    with pytest.raises(ProfileError, match="before its parent"):
        Profile.from_tnds(orphan, "orphan")
    bad_acl = (b"<MgmtTree><Node><NodeName>a</NodeName><RTProperties><ACL>Get</ACL>"
               b"</RTProperties></Node></MgmtTree>")
    with pytest.raises(ProfileError, match="bad ACL at ./a"):
        Profile.from_tnds(bad_acl, "acl")
    root_without_add = (b"<MgmtTree><Node><NodeName>.</NodeName><RTProperties>"
                        b"<ACL>Get=*</ACL></RTProperties></Node></MgmtTree>")
    with pytest.raises(ProfileError, match="Add="):
        Profile.from_tnds(root_without_add, "root")


def test_every_shipped_profile_loads() -> None:
    for path in TREES_DIR.glob("*.xml"):
        assert load_profile(path).nodes


def test_the_digest_leaves_out_runtime_values_but_not_secrets() -> None:
    tree = Tree(load_profile("default"))
    before = tree.digest()
    nonce = "./DMAcc/dms1/AppAuth/ClientSide/AAuthData"
    assert tree.replace(nonce, None, value=b"a-new-nonce", format="bin").ok
    assert tree.replace("./Vendor/DMLab/Bootstrap/State", None, value="installed").ok
    assert tree.digest() == before  # session bookkeeping, like TStamp and VerNo
    assert b"a-new-nonce" not in tree.export(canonical=True)
    assert b"YS1uZXctbm9uY2U=" in tree.export()  # the full export keeps it
    assert tree.replace("./DMAcc/dms1/AppAuth/ClientSide/AAuthSecret", None, value="x").ok
    assert tree.digest() != before
    again = tree.export(canonical=True)
    assert Tree(Profile.from_tnds(again, "again")).export(canonical=True) == again
