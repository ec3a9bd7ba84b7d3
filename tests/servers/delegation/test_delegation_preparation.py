"""DMS-1's preparation, undo and removal jobs, run for real: the default handset's Tree,
the reference DMServer as DMS-1, and the two engines talking in memory.

Tree comparisons use the tree's digest (canonical TNDS: TStamp, VerNo and runtime values
such as the nonces every DM session rotates left out).
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from dmclient.bootstrap import AccountSpec, AppAuth, account_nodes
from dmclient.bootstrap.mo import URL
from dmclient.session import ClientSession, Ended, Outcome
from dmclient.tree import Tree, load_profile, tnds
from dmclient.tree.acl import AclCommand
from dmclient.tree.acl import parse as parse_acl
from servers.delegation.journal import AccountAdded, AclChange, Journal, LeafChange
from servers.delegation.messages import DelType
from servers.delegation.methods import Action
from servers.delegation.preparation import (PreparationError, Snapshot, account_document,
                                            judge, preparation_job, read_job, removal_job,
                                            snapshot, undo_job)
from servers.dm import DeviceConfig, DMServer, Get, Job, JobRecord, Registry, ServerConfig

DEVID = "IMEI:358240051111110"
BOOTSTRAP_URL = "https://127.0.0.1:8444/bootstrap/dms2"
DMLAB = "./Vendor/DMLab"
COMMANDS = [c.value for c in AclCommand]
DMS2_ACCOUNT = AccountSpec(server_id="dms2", addr="https://127.0.0.1:9443/dm", name="DMS-2",
                           app_auth=(AppAuth("CLCRED", "DIGEST", DEVID, "h2", b"n1"),
                                     AppAuth("SRVCRED", "DIGEST", "dms2", "s2", b"n2")))


def dms2_tnds(**changes: object) -> str:
    return tnds.export(account_nodes(dataclasses.replace(DMS2_ACCOUNT, **changes))).decode()


class Lab:
    """A handset and DMS-1; `run` is one DM session that carries out one job."""

    def __init__(self) -> None:
        self.tree = Tree(load_profile("default"))
        device = DeviceConfig(device_id=DEVID, client_auth="DIGEST",
                              client_secret="handset-secret",
                              client_nonce="Y2xpZW50LW5vbmNlLTE=", server_auth="DIGEST",
                              server_secret="dms1-secret", server_nonce="c2VydmVyLW5vbmNlLTE=")
        config = ServerConfig(server_id="dms1", url="https://127.0.0.1:8443/dm",
                              devices=[device])
        ticks = itertools.count(1_700_000_000)
        self.server = DMServer(config, Registry(), clock=lambda: float(next(ticks)))

    def run(self, job: Job) -> JobRecord:
        queued = self.server.queue_job(DEVID, job)
        session = ClientSession(self.tree, "dms1")
        step = session.start()
        while not isinstance(step, Ended):
            reply = self.server.handle(step.body, content_type=step.content_type,
                                       headers=step.headers)
            assert reply.http_status == 200, reply.reason
            step = session.receive(reply.body, reply.content_type, reply.headers)
        assert step.outcome is Outcome.COMPLETED, step.reason
        return self.server.job(queued.job_id)

    def read(self) -> Snapshot:
        return snapshot(self.run(read_job((URL,))))

    def state(self) -> str:
        return self.tree.digest()

    def allowed(self, server: str, *, skip: str = "") -> set[tuple[str, str]]:
        """Every (command, URI) `server` may run, ACL changes included."""
        return {(command, uri) for path, _ in self.tree.walk()
                if not (skip and (path == skip or path.startswith(skip + "/")))
                for uri in (path, f"{path}?prop=ACL") for command in COMMANDS
                if self.tree.can(server, command, uri).allowed}

    def acls(self) -> dict[str, str]:
        return {path: node.acl for path, node in self.tree.walk() if node.acl}


def prepare(lab: Lab, action: Action, del_type: DelType,
            paths: tuple[str, ...] = (DMLAB,)) -> tuple[Job, Journal]:
    return preparation_job(lab.read(), action, "dms1", "dms2", del_type, paths,
                           dmacc_tnds=dms2_tnds(), bootstrap_url=BOOTSTRAP_URL)


ACTIONS = [Action.PREPARE_WITH_ACCOUNT, Action.PREPARE_WITH_URL]
TYPES = [DelType.FULL, DelType.PARTIAL]


# ------------------------------------------------------------------ reading

def test_the_read_job_gives_every_acl_the_accounts_and_the_leaves() -> None:
    snap = Lab().read()
    assert snap.acls["."] == "Add=*&Get=*"
    assert snap.acls["./DMAcc"] == "Add=dms1&Get=dms1&Replace=dms1"
    assert snap.acls["./Vendor/DMLab/Settings/Greeting"] == ""
    assert snap.accounts == ("dms1",)
    assert snap.leaves == {URL: ""}
    assert str(snap.effective("./Vendor/DMLab/Settings/Greeting")) == \
        "Add=dms1&Delete=dms1&Exec=dms1&Get=dms1&Replace=dms1"


# ------------------------------------------------------------------ prepare, check, undo

@pytest.mark.parametrize("del_type", TYPES)
@pytest.mark.parametrize("action", ACTIONS)
def test_prepare_then_undo_leaves_the_tree_as_before(action: Action, del_type: DelType) -> None:
    lab = Lab()
    before, dms1_could = lab.state(), lab.allowed("dms1", skip="./DMAcc/dms1")
    job, journal = prepare(lab, action, del_type)
    record = lab.run(job)
    assert judge(record).ok, judge(record).reason
    tree = lab.tree

    if action is Action.PREPARE_WITH_ACCOUNT:
        assert tree.get("./DMAcc/dms2/Ext/SuppressSession").value == "true"
        assert tree.node("./DMAcc/dms2").acl == "Add=dms2&Delete=dms2&Get=dms2&Replace=dms2"
        assert tree.node("./DMAcc/dms1/Ext/SuppressSession").value == "false"
    else:
        assert tree.node("./DMAcc/dms2") is None  # the bootstrap installs it, later
        assert tree.get(URL).value == BOOTSTRAP_URL
        assert [(c.cmd, c.status) for c in record.commands[-2:]] == [("Replace", 200),
                                                                    ("Exec", 200)]
    assert not tree.can("dms2", "Get", "./DMAcc/dms1").allowed
    assert not tree.can("dms2", "Get", "./DMAcc/dms1/AppAuth/ServerSide/AAuthName").allowed
    if del_type is DelType.PARTIAL:
        assert tree.can("dms2", "Replace", "./Vendor/DMLab/Settings/Greeting").allowed
        assert tree.can("dms2", "Exec", "./Vendor/DMLab/Bootstrap/Fetch").allowed
        assert not tree.can("dms2", "Add", "./DMAcc/x").allowed
        assert {path for path, acl in lab.acls().items() if "dms2" in acl} <= \
            {DMLAB, "./DMAcc/dms2"}
    else:
        assert dms1_could <= lab.allowed("dms2", skip="./DMAcc/dms1")
        assert tree.can("dms2", "Add", "./DMAcc/x").allowed
    assert lab.state() != before

    undo = undo_job(journal, lab.read())
    assert undo is not None
    assert judge(lab.run(undo)).ok
    assert lab.state() == before
    assert undo_job(journal, lab.read()) is None  # nothing left to undo


@pytest.mark.parametrize("del_type", TYPES)
def test_undo_removes_the_account_dms2s_bootstrap_installed(del_type: DelType) -> None:
    """Methods 3-4, failing at steps 6-9: the handset may hold DMS-2's account by now,
    with an ACL that names only DMS-2."""
    lab = Lab()
    before = lab.state()
    job, journal = prepare(lab, Action.PREPARE_WITH_URL, del_type)
    assert judge(lab.run(job)).ok
    installed = [tnds.TndsEntry(p, n, frozenset()) for p, n in account_nodes(DMS2_ACCOUNT)]
    assert lab.tree.apply_tnds(installed).ok  # as the bootstrap does: device authority
    assert not lab.tree.can("dms1", "Delete", "./DMAcc/dms2").allowed

    undo = undo_job(journal, lab.read())
    assert undo is not None
    assert judge(lab.run(undo)).ok
    assert lab.tree.node("./DMAcc/dms2") is None
    assert lab.state() == before


def test_undo_without_a_fresh_read_assumes_the_whole_preparation() -> None:
    lab = Lab()
    before = lab.state()
    job, journal = prepare(lab, Action.PREPARE_WITH_ACCOUNT, DelType.PARTIAL)
    assert judge(lab.run(job)).ok
    undo = undo_job(journal)
    assert undo is not None and judge(lab.run(undo)).ok
    assert lab.state() == before


# ------------------------------------------------------------------ failing half-way

@pytest.mark.parametrize("action", ACTIONS)
def test_a_refused_command_rolls_the_whole_preparation_back(action: Action) -> None:
    lab = Lab()
    job, _ = prepare(lab, action, DelType.FULL)
    # Between the read and the preparation, DMS-1 loses Replace on ./Vendor/DMLab.
    assert lab.tree.replace(f"{DMLAB}?prop=ACL", value="Add=dms1&Delete=dms1&Get=dms1").ok
    before = lab.state()
    record = lab.run(job)
    verdict = judge(record)
    assert not verdict.ok
    assert verdict.reason.startswith("425 on Replace ./Vendor/DMLab?prop=ACL")
    assert lab.state() == before
    assert lab.tree.node("./DMAcc/dms2") is None
    assert lab.tree.get(URL).value == ""


def test_judge_names_a_command_that_failed_outside_an_atomic() -> None:
    lab = Lab()
    verdict = judge(lab.run(Job([Get("./DevInfo/Man"), Get("./Nowhere")])))
    assert not verdict.ok and verdict.reason.startswith("404 on Get ./Nowhere")


# ------------------------------------------------------------------ full delegation, confirmed

@pytest.mark.parametrize("action", ACTIONS)
def test_removal_leaves_no_trace_of_dms1_and_dms2_manages_everything(action: Action) -> None:
    lab = Lab()
    dms1_could = lab.allowed("dms1", skip="./DMAcc/dms1")
    job, _ = prepare(lab, action, DelType.FULL)
    assert judge(lab.run(job)).ok
    removal = removal_job(lab.read(), "dms1")
    assert removal is not None
    record = lab.run(removal)
    assert judge(record).ok, judge(record).reason
    assert lab.tree.node("./DMAcc/dms1") is None
    assert not any("dms1" in parse_acl(acl).servers() for acl in lab.acls().values())
    assert dms1_could <= lab.allowed("dms2")
    assert lab.tree.node(".").acl == "Add=*&Get=*"


def test_removal_orders_children_before_parents_and_the_account_first() -> None:
    snap = Snapshot({".": "Add=*&Get=*&Replace=dms1", "./A": "Replace=dms1&Get=dms1+dms2",
                     "./A/B": "Get=dms1", "./DMAcc": "Add=dms1+dms2",
                     "./DMAcc/dms1": "Delete=dms1", "./DMAcc/dms1/X": "Get=dms1"},
                    ("dms1", "dms2"))
    job = removal_job(snap, "dms1")
    assert job is not None
    steps = [(type(c).__name__, c.uri, getattr(c, "data", None))
             for c in job.commands[0].commands]  # type: ignore[union-attr]
    assert steps == [("Delete", "./DMAcc/dms1", None),
                     ("Replace", "./A/B?prop=ACL", ""),
                     ("Replace", "./A?prop=ACL", "Get=dms2"),
                     ("Replace", "./DMAcc?prop=ACL", "Add=dms2"),
                     ("Replace", ".?prop=ACL", "Add=*&Get=*&Replace=*")]


# ------------------------------------------------------------------ pure parts

def test_suppress_session_is_forced_on_or_added() -> None:
    for document in (dms2_tnds(suppress_session=False), dms2_tnds(suppress_session=True)):
        account = account_document(document, "dms2")
        entries = {e.path: e.node for e in tnds.parse(account.tnds.encode(), base="./DMAcc")}
        assert entries["./DMAcc/dms2/Ext/SuppressSession"].value == "true"
        assert account.name == "dms2"
    bare = dms2_tnds().replace("<NodeName>Ext</NodeName>", "<NodeName>Other</NodeName>")
    entries = {e.path: e.node for e in
               tnds.parse(account_document(bare, "dms2").tnds.encode(), base="./DMAcc")}
    assert entries["./DMAcc/dms2/Ext/SuppressSession"].format == "bool"
    assert entries["./DMAcc/dms2/Other/SuppressSession"].value == "false"


@pytest.mark.parametrize("document, problem", [
    ("<MgmtTree/>", "one interior node under ./DMAcc"),
    (dms2_tnds(server_id="dms3"), "not for ServerID dms2"),
    ("not xml", "not TNDS"),
])
def test_a_bad_account_document_is_refused_before_any_session(document: str,
                                                              problem: str) -> None:
    with pytest.raises(PreparationError, match=problem):
        account_document(document, "dms2")


def test_partial_grants_follow_the_effective_acl_and_nested_own_acls() -> None:
    snap = Snapshot({".": "Add=*&Get=*", "./V": "Get=*&Replace=dms1", "./V/S": "",
                     "./V/S/L": "Get=dms1+dms9", "./V/S/P": "Get=*", "./W": "Get=dms1"},
                    ("dms1",), {URL: ""})
    job, journal = preparation_job(snap, Action.PREPARE_WITH_URL, "dms1", "dms2",
                                   DelType.PARTIAL, ("./V/S",), bootstrap_url="https://b")
    # ./V/S had no ACL: it takes ./V's, with dms2 beside dms1; ./V/S/P's `*` covers dms2.
    assert journal.changes[:2] == (AclChange("./V/S", "", "Get=*&Replace=dms1+dms2"),
                                   AclChange("./V/S/L", "Get=dms1+dms9",
                                             "Get=dms1+dms9+dms2"))
    assert isinstance(journal.changes[2], LeafChange) and len(journal.changes) == 3


def test_preparation_refuses_what_it_cannot_build() -> None:
    snap = Snapshot({".": "Add=*&Get=*", "./V": "Get=dms9"}, ("dms1",), {URL: ""})
    with pytest.raises(PreparationError, match="holds no rights"):
        preparation_job(snap, Action.PREPARE_WITH_URL, "dms1", "dms2", DelType.PARTIAL,
                        ("./V",), bootstrap_url="https://b")
    with pytest.raises(PreparationError, match="not on the handset"):
        preparation_job(snap, Action.PREPARE_WITH_URL, "dms1", "dms2", DelType.PARTIAL,
                        ("./Nope",), bootstrap_url="https://b")
    with pytest.raises(PreparationError, match="already exists"):
        preparation_job(Snapshot(snap.acls, ("dms1", "dms2")), Action.PREPARE_WITH_ACCOUNT,
                        "dms1", "dms2", DelType.FULL, dmacc_tnds=dms2_tnds())


def test_the_journal_survives_json() -> None:
    journal = Journal(Action.PREPARE_WITH_URL, "dms1", "dms2", ("dms1",),
                      (AccountAdded("dms2"), AclChange("./A", "", "Get=dms2"),
                       LeafChange(URL, "", "https://b")))
    assert Journal.from_json(journal.to_json()) == journal
