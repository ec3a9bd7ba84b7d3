"""The client engine against a server written only from the spec (tests/session/spec_server)."""

from __future__ import annotations

from dmclient.session import ClientSession, Ended, Outcome
from dmclient.tree import Tree, load_profile

from .spec_server import SpecServer

XML = "application/vnd.syncml.dm+xml"


def spec_server(**overrides) -> SpecServer:
    settings = dict(url="https://127.0.0.1:8443/dm", client_user="IMEI:358240051111110",
                    client_secret="handset-secret", client_nonce=b"client-nonce-1",
                    server_user="dms1", server_secret="dms1-secret",
                    server_nonce=b"server-nonce-1")
    settings.update(overrides)
    return SpecServer(**settings)


def run(session: ClientSession, server: SpecServer) -> Ended:
    step = session.start()
    for _ in range(20):
        if isinstance(step, Ended):
            return step
        step = session.receive(server.handle(step.body), XML)
    raise AssertionError("the session did not end")


def test_a_full_session() -> None:
    tree = Tree(load_profile("default"))
    server = spec_server(commands=[
        ("Get", "./DevInfo/Mod"),
        ("Replace", "./Vendor/DMLab/Settings/Greeting", "set by a stranger"),
        ("Get", "./DMAcc/dms1/AppAuth/ClientSide/AAuthSecret"),
        ("Delete", "./DevInfo"),
        ("Get", "./No/Such/Node"),
    ])
    ended = run(ClientSession(tree, "dms1"), server)
    assert ended.outcome is Outcome.COMPLETED and server.done
    # CmdIDs 1-3 are its Statuses for our header, Alert and DevInfo Replace.
    assert server.statuses == {"4": "200", "5": "200", "6": "405", "7": "425", "8": "404"}
    assert server.results == {"./DevInfo/Mod": "Virtual Handset 1"}
    assert server.devinfo["./DevInfo/DevId"] == "IMEI:358240051111110"
    assert tree.get("./Vendor/DMLab/Settings/Greeting").value == "set by a stranger"


def test_pkg1_is_resent_after_a_challenge_and_the_new_nonce_kept() -> None:
    tree = Tree(load_profile("default"))
    server = spec_server(client_nonce=b"a-nonce-the-handset-never-saw",
                         commands=[("Get", "./DevInfo/Man")])
    session = ClientSession(tree, "dms1")
    ended = run(session, server)
    assert ended.outcome is Outcome.COMPLETED
    assert server.log == ["challenge", "client authenticated"]
    # The challenge came with the server's valid Cred, so its NextNonce is stored.
    assert tree.node("./DMAcc/dms1/AppAuth/ClientSide/AAuthData").value == b"spec-nonce-2"


def test_a_wrong_server_credential_runs_nothing() -> None:
    tree = Tree(load_profile("default"))
    before = tree.digest()
    server = spec_server(server_secret="not-the-secret",
                         commands=[("Replace", "./Vendor/DMLab/Settings/Greeting", "x")])
    ended = run(ClientSession(tree, "dms1"), server)
    assert ended.outcome is Outcome.AUTH_FAILED
    assert server.statuses == {"4": "215"}
    assert tree.get("./Vendor/DMLab/Settings/Greeting").value == "Hello from dmlab"
    assert tree.digest() == before  # nothing but the nonce we issued moved
    assert tree.node("./DMAcc/dms1/AppAuth/ServerSide/AAuthData").value != b"server-nonce-1"


def test_a_replayed_server_nonce_is_refused() -> None:
    tree = Tree(load_profile("default"))
    first = spec_server(commands=[("Get", "./DevInfo/Man")])
    assert run(ClientSession(tree, "dms1"), first).outcome is Outcome.COMPLETED
    # The handset answered 212 with a fresh nonce for next time; a server (or an
    # eavesdropper) that reuses the old one is refused, and its commands do not run.
    replay = spec_server(client_nonce=b"spec-nonce-2",
                         commands=[("Replace", "./Vendor/DMLab/Settings/Greeting", "replayed")])
    replay.client_nonce = first.client_nonce
    ended = run(ClientSession(tree, "dms1"), replay)
    assert ended.outcome is Outcome.AUTH_FAILED
    assert tree.get("./Vendor/DMLab/Settings/Greeting").value == "Hello from dmlab"
