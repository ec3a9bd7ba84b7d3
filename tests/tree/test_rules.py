"""Every tree rule of issue 2, checked on the default profile (trees/default.xml)."""

from __future__ import annotations

import pytest

from dmclient.tree import Tree, acl, load_profile
from dmclient.tree.accounts import accounts, find_account
from dmclient.tree.ops import Add, Delete, Replace
from dmclient.wire.status import StatusCode as S

SETTINGS = "./Vendor/DMLab/Settings"


# ---------------------------------------------------------------- ACL evaluation

def test_acl_inherits_from_nearest_ancestor_with_a_value(tree: Tree) -> None:
    assert tree.can("dms1", "Get", f"{SETTINGS}/Greeting").decided_by == "./Vendor/DMLab"
    assert tree.can("dms1", "Get", f"{SETTINGS}/Greeting").allowed
    # ./Vendor/DMLab's own ACL wins whole: ./Vendor's Get=* is not merged in.
    assert not tree.can("dms2", "Get", f"{SETTINGS}/Greeting").allowed


def test_root_default_acl_and_wildcard(tree: Tree) -> None:
    decision = tree.can("anyone", "Add", "./NewNode")
    assert decision.allowed and decision.decided_by == "."
    assert not tree.can("anyone", "Delete", "./NewNode").allowed
    assert tree.can("anyone", "Get", "./DevInfo/DevId").allowed  # Get=* on ./DevInfo


def test_acl_denial_is_425_and_changes_nothing(tree: Tree) -> None:
    before = tree.export()
    result = tree.replace(f"{SETTINGS}/Greeting", "dms2", value="hi")
    assert result.status == S.PERMISSION_DENIED
    assert "./Vendor/DMLab" in result.detail
    assert tree.get(f"{SETTINGS}/Greeting", "dms2").status == S.PERMISSION_DENIED
    assert tree.delete(f"{SETTINGS}/Greeting", "dms2").status == S.PERMISSION_DENIED
    assert tree.add(f"{SETTINGS}/New", "dms2", value="x").status == S.PERMISSION_DENIED
    assert tree.export() == before


def test_changing_acl_needs_replace_on_parent_or_own_interior(tree: Tree) -> None:
    # dms1 has Replace on ./DMAcc (the parent): it may rewrite ./DMAcc/dms1's ACL.
    assert tree.can("dms1", "Replace", "./DMAcc/dms1?prop=ACL").decided_by == "./DMAcc"
    # ./Vendor/DMLab is interior: its own ACL (Replace=dms1) allows it, though the parent
    # ./Vendor gives only Get=*.
    decision = tree.can("dms1", "Replace", "./Vendor/DMLab?prop=ACL")
    assert decision.allowed and decision.decided_by == "./Vendor/DMLab"
    assert tree.replace("./Vendor/DMLab?prop=ACL", "dms1",
                        value="Get=dms1&Replace=dms1").ok


def test_leaf_own_replace_does_not_cover_its_acl(tree: Tree) -> None:
    leaf = f"{SETTINGS}/Greeting"
    # Give dms2 Replace on the leaf itself only.
    assert tree.replace(f"{leaf}?prop=ACL", None, value="Get=dms2&Replace=dms2").ok
    assert tree.replace(leaf, "dms2", value="changed").ok           # value: allowed
    assert tree.replace(f"{leaf}?prop=Title", "dms2", value="t").ok  # other props: allowed
    result = tree.replace(f"{leaf}?prop=ACL", "dms2", value="Get=*")
    assert result.status == S.PERMISSION_DENIED                     # its ACL: not
    assert not tree.can("dms2", "Replace", f"{leaf}?prop=ACL").allowed
    # Replace on the parent's effective ACL does cover it.
    assert tree.replace(f"{leaf}?prop=ACL", "dms1", value="Get=*").ok


def test_two_step_takeover_via_parent_replace(tree: Tree) -> None:
    assert tree.replace("./DMAcc/dms1?prop=ACL", "dms1",
                        value="Get=dms1+dms2&Replace=dms1").ok
    assert tree.get("./DMAcc/dms1/ServerID", "dms2").value == "dms1"


def test_root_acl_must_keep_add_star(tree: Tree) -> None:
    assert tree.replace(".?prop=ACL", None, value="Get=*").status == S.COMMAND_NOT_ALLOWED
    assert tree.replace(".?prop=ACL", None, value="Add=*&Get=*&Replace=dms1").ok
    assert tree.replace(".?prop=ACL", "dms1", value="Add=*&Get=*").ok  # own interior Replace


def test_broken_acl_value_is_400(tree: Tree) -> None:
    before = tree.export()
    for bad in ("Get", "Get=", "Fetch=*", "Get=a b", "Get=*+a", "Get=a&"):
        result = tree.replace("./Vendor/DMLab?prop=ACL", None, value=bad)
        assert result.status == S.BAD_REQUEST, bad
    assert tree.export() == before


def test_creator_of_interior_node_without_parent_replace_gets_add_delete_replace(
        tree: Tree) -> None:
    # The root gives Add=* but no Replace: dms2 creating ./Lab gets the spec's grant.
    assert tree.add("./Lab", "dms2", format="node").ok
    assert tree.get("./Lab?prop=ACL").value == "Add=dms2&Delete=dms2&Replace=dms2"
    # Leaves get no grant: they inherit.
    assert tree.add("./Lab/leaf", "dms2", value="v").ok
    assert tree.get("./Lab/leaf?prop=ACL").value == ""
    # With Replace on the parent there is no grant either.
    assert tree.add("./Vendor/DMLab/Apps/app1", "dms1", format="node").ok
    assert tree.get("./Vendor/DMLab/Apps/app1?prop=ACL").value == ""


def test_missing_parents_are_created_and_only_the_top_one_gets_the_grant(tree: Tree) -> None:
    assert tree.add("./Lab2/a/b/leaf", "dms2", value="1").ok
    assert tree.get("./Lab2?prop=ACL").value == "Add=dms2&Delete=dms2&Replace=dms2"
    assert tree.get("./Lab2/a?prop=ACL").value == ""
    assert tree.get("./Lab2/a/b?prop=Format").value == "node"


def test_remove_server_from_every_acl(tree: Tree) -> None:
    assert tree.replace(".?prop=ACL", None, value="Add=*&Get=*&Replace=dms1").ok
    assert tree.remove_server("dms1").ok
    assert tree.get("./DMAcc?prop=ACL").value == ""             # emptied ACL inherits
    assert tree.get(".?prop=ACL").value == "Add=*&Get=*&Replace=*"  # root: empty becomes *
    for path, node in tree.walk():
        assert "dms1" not in acl.parse(node.acl).servers(), path


def test_acl_without_server_keeps_others() -> None:
    value = acl.parse("Add=a+b&Get=*&Replace=a")
    assert str(value.without_server("a")) == "Add=b&Get=*"
    assert str(value.with_server([acl.AclCommand.REPLACE, acl.AclCommand.EXEC], "c")) == \
        "Add=a+b&Get=*&Replace=a+c&Exec=c"


# ---------------------------------------------------------------- nodes and properties

def test_get_leaf_interior_and_empty_interior(tree: Tree) -> None:
    leaf = tree.get("./DevInfo/Mod")
    assert leaf.value == "Virtual Handset 1" and leaf.items[0].format == "chr"
    assert tree.get("./DevInfo").value == "DevId/Man/Mod/DmV/Lang/Ext"
    assert tree.get("./DevInfo").items[0].format == "node"
    empty = tree.get("./Vendor/DMLab/Apps")
    assert empty.status == S.OK and empty.value == ""
    assert tree.get("./Nope").status == S.NOT_FOUND


def test_properties(tree: Tree) -> None:
    uri = f"{SETTINGS}/Greeting"
    assert tree.get(f"{uri}?prop=Format").value == "chr"
    assert tree.get(f"{uri}?prop=Name").value == "Greeting"
    assert tree.get(f"{uri}?prop=Type").value == "text/plain"
    assert tree.get(f"{uri}?prop=Size").value == str(len("Hello from dmlab"))
    assert tree.get(f"{uri}?prop=Title").value == "Text shown on the home screen"
    assert tree.get("./DMAcc/dms1?prop=Type").value == "urn:oma:mo:oma-dm-dmacc:1.0"
    assert tree.get("./DMAcc?prop=Size").status == S.OPTIONAL_FEATURE_NOT_SUPPORTED
    assert tree.get(f"{uri}?prop=Color").status == S.OPTIONAL_FEATURE_NOT_SUPPORTED
    assert tree.replace(f"{uri}?prop=Color", None, value="x").status == \
        S.OPTIONAL_FEATURE_NOT_SUPPORTED
    for prop in ("Format", "Type", "Size", "TStamp", "VerNo"):
        assert tree.replace(f"{uri}?prop={prop}", None, value="x").status == \
            S.COMMAND_NOT_ALLOWED, prop
    assert tree.add(f"{uri}?prop=Title", None, value="x").status == S.COMMAND_NOT_ALLOWED
    assert tree.delete(f"{uri}?prop=Title", None).status == S.COMMAND_NOT_ALLOWED


def test_acl_prop_is_the_nodes_own_value(tree: Tree) -> None:
    assert tree.get(f"{SETTINGS}/Greeting?prop=ACL", "dms1").value == ""
    assert tree.get("./Vendor/DMLab?prop=ACL", "dms1").value == \
        "Add=dms1&Delete=dms1&Exec=dms1&Get=dms1&Replace=dms1"


def test_tstamp_and_verno_change_with_the_node() -> None:
    now = [1_700_000_000.0]
    tree = Tree(load_profile("default"), clock=lambda: now[0])
    uri = f"{SETTINGS}/Greeting"
    assert tree.get(f"{uri}?prop=VerNo").value == "0"
    assert tree.replace(uri, "dms1", value="a").ok
    assert tree.get(f"{uri}?prop=VerNo").value == "1"
    assert tree.get(f"{uri}?prop=TStamp").value == "20231114T221320Z"
    now[0] += 61
    assert tree.replace(f"{uri}?prop=Title", "dms1", value="t").ok
    assert tree.get(f"{uri}?prop=VerNo").value == "2"
    assert tree.get(f"{uri}?prop=TStamp").value == "20231114T221421Z"
    # The parent changes when a child comes or goes.
    assert tree.add(f"{SETTINGS}/New", "dms1", value="n").ok
    assert tree.get(f"{SETTINGS}?prop=VerNo").value == "1"


def test_verno_wraps_at_uint16(tree: Tree) -> None:
    uri = f"{SETTINGS}/Greeting"
    tree._overlay[uri] = tree.node(uri).evolve(verno=0xFFFF)  # a node changed 65535 times
    assert tree.replace(uri, None, value="x").ok
    assert tree.get(f"{uri}?prop=VerNo").value == "0"


def test_rename_and_sibling_clash(tree: Tree) -> None:
    assert tree.add(f"{SETTINGS}/A", "dms1", value="a").ok
    assert tree.replace(f"{SETTINGS}/A?prop=Name", "dms1", value="Greeting").status == \
        S.ALREADY_EXISTS
    assert tree.replace(f"{SETTINGS}/A?prop=Name", "dms1", value="B").ok
    assert tree.get(f"{SETTINGS}/B").value == "a"
    assert tree.get(f"{SETTINGS}/A").status == S.NOT_FOUND
    assert tree.get(SETTINGS).value.split("/")[-1] == "B"  # keeps its place


def test_rename_moves_a_subtree_and_refuses_permanent_nodes(tree: Tree) -> None:
    assert tree.add("./Vendor/DMLab/Apps/app/cfg/x", "dms1", value="1").ok
    assert tree.replace("./Vendor/DMLab/Apps/app?prop=Name", "dms1", value="app2").ok
    assert tree.get("./Vendor/DMLab/Apps/app2/cfg/x").value == "1"
    assert tree.get("./Vendor/DMLab/Apps/app/cfg/x").status == S.NOT_FOUND
    assert tree.replace("./DevInfo?prop=Name", None, value="Info").status == \
        S.COMMAND_NOT_ALLOWED
    assert tree.replace("./Vendor/DMLab/Apps/app2?prop=Name", "dms1", value="a/b").status == \
        S.BAD_REQUEST


def test_title_is_at_most_255_bytes(tree: Tree) -> None:
    assert tree.replace(f"{SETTINGS}/Greeting?prop=Title", None, value="é" * 128).status == \
        S.REQUEST_ENTITY_TOO_LARGE
    assert tree.replace(f"{SETTINGS}/Greeting?prop=Title", None, value="t" * 255).ok


# ---------------------------------------------------------------- formats

@pytest.mark.parametrize("fmt, good, bad", [
    ("int", ["0", "-2147483648", "2147483647", "+5"], ["2147483648", "-2147483649", "1.5", "x", ""]),
    ("bool", ["true", "false"], ["True", "1", "yes", ""]),
    ("float", ["1.5", "-0.5e10", "INF", "NaN", ".5"], ["1,5", "e5", "abc"]),
    ("date", ["2024-02-29", "20240229"], ["2023-02-29", "2024-13-01", "yesterday"]),
    ("time", ["12:30:00", "123000Z", "23:59:59+01:00"], ["24:00:00", "12:60:00", "noon"]),
    ("xml", ["<a><b/></a>"], ["<a>", "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>"]),
    ("null", ["", None], ["x"]),
    ("chr", ["anything", ""], ["nul\x00"]),
])
def test_formats_are_validated(tree: Tree, fmt: str, good: list, bad: list) -> None:
    for n, value in enumerate(good):
        assert tree.add(f"{SETTINGS}/g{n}", None, value=value, format=fmt).ok, (fmt, value)
    for n, value in enumerate(bad):
        result = tree.add(f"{SETTINGS}/b{n}", None, value=value, format=fmt)
        assert result.status == S.BAD_REQUEST, (fmt, value)
        assert tree.get(f"{SETTINGS}/b{n}").status == S.NOT_FOUND


def test_unknown_format_is_415(tree: Tree) -> None:
    assert tree.add(f"{SETTINGS}/x", None, value="1", format="bignum").status == \
        S.UNSUPPORTED_MEDIA_TYPE


def test_replace_checks_the_existing_format(tree: Tree) -> None:
    assert tree.replace(f"{SETTINGS}/PollInterval", "dms1", value="ten").status == S.BAD_REQUEST
    assert tree.replace(f"{SETTINGS}/PollInterval", "dms1", value="10").ok
    assert tree.replace(f"{SETTINGS}/PollInterval", "dms1", value="ten", format="chr").ok


def test_b64_is_stored_as_bin_bytes_and_size_counts_bytes(tree: Tree) -> None:
    assert tree.add(f"{SETTINGS}/blob", None, value="AAEC/w==", format="b64").ok
    got = tree.get(f"{SETTINGS}/blob")
    assert got.value == b"\x00\x01\x02\xff" and got.items[0].format == "bin"
    assert tree.get(f"{SETTINGS}/blob?prop=Size").value == "4"
    assert tree.add(f"{SETTINGS}/bad", None, value="***", format="b64").status == S.BAD_REQUEST
    assert tree.add(f"{SETTINGS}/raw", None, value=b"\xfe\xff", format="bin").ok
    assert tree.get(f"{SETTINGS}/raw?prop=Size").value == "2"


def test_size_counts_utf8_bytes(tree: Tree) -> None:
    assert tree.add(f"{SETTINGS}/u", None, value="héllo").ok
    assert tree.get(f"{SETTINGS}/u?prop=Size").value == "6"


# ---------------------------------------------------------------- add / replace / delete

def test_add_rules(tree: Tree) -> None:
    assert tree.add(f"{SETTINGS}/Greeting", None, value="x").status == S.ALREADY_EXISTS
    assert tree.add(f"{SETTINGS}/Greeting/child", None, value="x").status == \
        S.COMMAND_NOT_ALLOWED  # a leaf parent
    assert tree.add("./Vendor/DMLab/Apps/a", "dms1", format="node").ok
    assert tree.get("./Vendor/DMLab/Apps").value == "a"
    assert tree.add("./Vendor/DMLab/Apps/b", "dms1", value="v", format="chr",
                    type="text/x-test").ok
    assert tree.get("./Vendor/DMLab/Apps/b?prop=Type").value == "text/x-test"


def test_replace_rules(tree: Tree) -> None:
    assert tree.replace("./Nope", None, value="x").status == S.NOT_FOUND
    assert tree.replace(SETTINGS, None, value="x").status == S.COMMAND_NOT_ALLOWED
    # AccessType binds servers: even with Replace in the ACL, DevId (Get only) refuses
    # them with 405; the handset itself (device authority) may write its own identity.
    assert tree.replace("./DevInfo?prop=ACL", None, value="Get=*&Replace=dms1").ok
    assert tree.replace("./DevInfo/DevId", "dms1", value="x").status == S.COMMAND_NOT_ALLOWED
    assert tree.replace("./DevInfo/DevId", None, value="IMEI:1").ok
    assert tree.replace(f"{SETTINGS}/Greeting", "dms1", value="x", type="text/x").ok
    assert tree.get(f"{SETTINGS}/Greeting?prop=Type").value == "text/x"


def test_delete_removes_the_whole_subtree(tree: Tree) -> None:
    for leaf in ("a", "b/c", "b/d"):
        assert tree.add(f"./Vendor/DMLab/Apps/x/{leaf}", "dms1", value="1").ok
    assert tree.delete("./Vendor/DMLab/Apps/x", "dms1").ok
    for path in ("x", "x/a", "x/b", "x/b/c", "x/b/d"):
        assert tree.get(f"./Vendor/DMLab/Apps/{path}").status == S.NOT_FOUND
    assert tree.get("./Vendor/DMLab/Apps").value == ""
    # A deleted profile subtree stays deleted, and can be added again.
    assert tree.delete(SETTINGS, "dms1").ok
    assert tree.get(f"{SETTINGS}/Greeting").status == S.NOT_FOUND
    assert tree.add(f"{SETTINGS}/Greeting", "dms1", value="back").ok
    assert tree.get(SETTINGS).value == "Greeting"


def test_delete_permanent_is_405(tree: Tree) -> None:
    assert tree.delete("./DevInfo", None).status == S.COMMAND_NOT_ALLOWED
    assert tree.delete("./DevInfo/DevId", None).status == S.COMMAND_NOT_ALLOWED
    assert tree.delete(".", None).status == S.COMMAND_NOT_ALLOWED
    assert tree.delete("./Vendor", None).status == S.COMMAND_NOT_ALLOWED  # holds permanent
    assert tree.delete("./Nope", None).status == S.NOT_FOUND


def test_access_type_hides_secrets(tree: Tree) -> None:
    secret = "./DMAcc/dms1/AppAuth/ClientSide/AAuthSecret"
    assert tree.get(secret, "dms1").status == S.COMMAND_NOT_ALLOWED
    assert tree.replace(secret, "dms1", value="new").ok
    listing = tree.get("./DMAcc/dms1?list=StructData", "dms1")
    by_uri = {i.uri: i for i in listing.items}
    assert by_uri[secret].value is None
    assert by_uri["./DMAcc/dms1/ServerID"].value == "dms1"
    tnds_doc = tree.get("./DMAcc?list=TNDS+Value", "dms1").value
    assert "new" not in tnds_doc and "handset-secret" not in tnds_doc


# ---------------------------------------------------------------- copy

def test_copy_leaf_to_new_and_existing_leaf(tree: Tree) -> None:
    assert tree.copy(f"{SETTINGS}/Greeting", f"{SETTINGS}/Copy", "dms1").ok
    assert tree.get(f"{SETTINGS}/Copy").value == "Hello from dmlab"
    assert tree.replace(f"{SETTINGS}/Greeting", "dms1", value="changed").ok
    assert tree.copy(f"{SETTINGS}/Greeting", f"{SETTINGS}/Copy", "dms1").ok
    assert tree.get(f"{SETTINGS}/Copy").value == "changed"


def test_copy_rules(tree: Tree) -> None:
    assert tree.copy(SETTINGS, "./Vendor/DMLab/X", "dms1").status == S.FORBIDDEN
    assert tree.copy(f"{SETTINGS}/Greeting", "./Vendor/DMLab/Apps", "dms1").status == \
        S.FORBIDDEN
    assert tree.copy("./Nope", f"{SETTINGS}/C", "dms1").status == S.NOT_FOUND
    # Get is needed on the source, Add where a new target goes.
    assert tree.copy(f"{SETTINGS}/Greeting", "./Copy", "dms2").status == S.PERMISSION_DENIED
    assert tree.copy("./DevInfo/Man", f"{SETTINGS}/C", "dms2").status == S.PERMISSION_DENIED
    assert tree.copy("./DevInfo/Man", "./Man", "dms2").ok  # Get=* there, Add=* at the root


# ---------------------------------------------------------------- ?list forms

def test_list_struct_and_structdata(tree: Tree) -> None:
    struct = tree.get(f"{SETTINGS}?list=Struct", "dms1")
    assert [i.uri for i in struct.items] == [SETTINGS, f"{SETTINGS}/Greeting",
                                              f"{SETTINGS}/PollInterval", f"{SETTINGS}/Telemetry"]
    assert all(i.value is None for i in struct.items)
    data = tree.get(f"{SETTINGS}?list=StructData", "dms1")
    assert [i.value for i in data.items] == [None, "Hello from dmlab", "0", "false"]


def test_list_leaves_out_nodes_without_get(tree: Tree) -> None:
    assert tree.replace(f"{SETTINGS}/Greeting?prop=ACL", None, value="Get=dms2").ok
    assert tree.replace(f"{SETTINGS}?prop=ACL", None, value="Get=dms1").ok
    uris = [i.uri for i in tree.get(f"{SETTINGS}?list=Struct", "dms1").items]
    assert f"{SETTINGS}/Greeting" not in uris and f"{SETTINGS}/Telemetry" in uris


def test_list_tnds_with_property_selection(tree: Tree) -> None:
    from dmclient.tree import tnds

    result = tree.get(f"{SETTINGS}?list=TNDS+Format+Value", "dms1")
    item = result.items[0]
    assert item.type == "application/vnd.syncml.dmtnds+xml" and item.format == "xml"
    assert "<Value>Hello from dmlab</Value>" in item.value and "<ACL>" not in item.value
    entries = tnds.parse(item.value.encode())
    assert [e.path for e in entries][:2] == [SETTINGS, f"{SETTINGS}/Greeting"]
    trimmed = tree.get(f"{SETTINGS}?list=TNDS-Value", "dms1").value
    assert "<Value>" not in trimmed and "<Format>" in trimmed
    assert tree.get(f"{SETTINGS}?list=Tree", "dms1").status == S.BAD_REQUEST


# ---------------------------------------------------------------- URIs through the tree

def test_uri_forms(tree: Tree) -> None:
    assert tree.get("DevInfo/DevId").value == tree.get("./DevInfo/DevId").value
    assert tree.get(".").value.startswith("DevInfo/")
    for bad in ("./DevInfo/", "./DevInfo/../DMAcc", "./DevInfo/./DevId", "./A//B",
                "/DevInfo", "./a\x00b", "./a%zz", "./%ff"):
        assert tree.get(bad).status == S.BAD_REQUEST, bad
    assert tree.add(f"{SETTINGS}/sp%20ace", None, value="1").ok
    assert tree.get(f"{SETTINGS}/sp%20ace").items[0].uri == f"{SETTINGS}/sp%20ace"
    assert "sp ace" in tree.get(SETTINGS).value


def test_uri_limits_come_from_devdetail(tree: Tree) -> None:
    assert tree.get("./" + "a" * 65).status == S.URI_TOO_LONG           # MaxSegLen 64
    assert tree.get("./" + "/".join("a" * 17)).status == S.URI_TOO_LONG  # MaxDepth 16
    assert tree.get("./" + "/".join(["a" * 60] * 9)).status == S.URI_TOO_LONG  # MaxTotLen 512
    assert tree.add("./" + "a" * 65, None, value="x").status == S.URI_TOO_LONG


# ---------------------------------------------------------------- transactions

def test_batch_commits_or_rolls_back_as_a_whole(tree: Tree) -> None:
    before = tree.export()
    results = tree.run([
        Add("./Vendor/DMLab/Apps/a", format="node"),
        Replace(f"{SETTINGS}/Greeting", "new"),
        Delete("./DevInfo"),                      # 405: the whole batch is undone
        Replace(f"{SETTINGS}/Telemetry", "true"),
    ], "dms1")
    assert [r.status for r in results] == [S.ATOMIC_ROLLBACK_OK, S.ATOMIC_ROLLBACK_OK,
                                           S.PERMISSION_DENIED, S.NOT_EXECUTED]
    assert tree.export() == before and tree.changed_paths == ()
    results = tree.run([Add("./Vendor/DMLab/Apps/a", format="node"),
                        Replace(f"{SETTINGS}/Greeting", "new")], "dms1")
    assert all(r.ok for r in results)
    assert tree.get(f"{SETTINGS}/Greeting").value == "new"


def test_nested_transactions(tree: Tree) -> None:
    with tree.transaction():
        assert tree.replace(f"{SETTINGS}/Greeting", None, value="outer").ok
        inner = tree.transaction()
        assert tree.replace(f"{SETTINGS}/Telemetry", None, value="true").ok
        inner.rollback()
        assert tree.get(f"{SETTINGS}/Telemetry").value == "false"
    assert tree.get(f"{SETTINGS}/Greeting").value == "outer"
    with pytest.raises(RuntimeError):
        with tree.transaction():
            assert tree.replace(f"{SETTINGS}/Greeting", None, value="lost").ok
            raise RuntimeError("boom")
    assert tree.get(f"{SETTINGS}/Greeting").value == "outer"


# ---------------------------------------------------------------- profiles and accounts

def test_handsets_share_the_profile_and_keep_only_differences() -> None:
    profile = load_profile("default")
    a, b = Tree(profile), Tree(profile)
    assert a.replace(f"{SETTINGS}/Greeting", None, value="mine").ok
    assert b.get(f"{SETTINGS}/Greeting").value == "Hello from dmlab"
    assert set(a.changed_paths) == {f"{SETTINGS}/Greeting"}
    assert b.changed_paths == ()
    assert load_profile("default") is profile


def test_find_account_and_credentials(tree: Tree) -> None:
    account = find_account(tree, "dms1")
    assert account is not None and account.path == "./DMAcc/dms1"
    assert account.addr == "https://127.0.0.1:8443/dm" and account.port == 8443
    assert account.auth_pref == "DIGEST" and not account.suppress_session
    client, server = account.client_credential, account.server_credential
    assert (client.type, client.name, client.secret) == ("DIGEST", "IMEI:358240051111110",
                                                         "handset-secret")
    assert client.data == b"client-nonce-1"
    assert (server.name, server.secret, server.data) == ("dms1", "dms1-secret",
                                                         b"server-nonce-1")
    assert find_account(tree, "dms9") is None
    assert [a.server_id for a in accounts(tree)] == ["dms1"]


def test_account_found_by_appid_anywhere(tree: Tree) -> None:
    assert tree.add("./SyncML/DMAcc/x/AppID", None, value="w7").ok
    assert tree.add("./SyncML/DMAcc/x/ServerID", None, value="other").ok
    assert tree.add("./SyncML/DMAcc/x/Ext/SuppressSession", None, value="true",
                    format="bool").ok
    account = find_account(tree, "other")
    assert account is not None and account.path == "./SyncML/DMAcc/x"
    assert account.suppress_session and account.credentials == ()
