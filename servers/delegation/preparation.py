"""DMS-1's work on the handset, as DM jobs: read, prepare, undo, remove, and judge.

The delegation engine asks its server for `PrepareHandset`, `Undo` and `RemoveDms1`;
this module turns each into a job (servers.dm.jobs) that DMS-1 runs in an ordinary DM
session, and reads the job's record back. It does no I/O. Each piece of work starts
from a `Snapshot` of the handset read in a session just before (`read_job`), because
an ACL change is only right against the ACL it replaces.

ACL rules this project defines (design, "Full and partial delegation"):
- PARTIAL: each delegated subtree root gets DMS-2 with the commands DMS-1 holds there
  by its *effective* ACL (a root whose own ACL is empty gets that effective ACL, plus
  DMS-2, as its own: same rights for everyone else, and now DMS-2's). Below the root,
  every node with its own ACL gets DMS-2 for DMS-1's commands in it, or that ACL would
  shut DMS-2 out of part of the subtree.
- FULL: the same rule from the root down: every node whose own ACL grants DMS-1
  something grants DMS-2 the same. A command granted through `*` is already DMS-2's, so
  nothing is written for it (and nothing needs removing later). DMS-1's own account
  (./DMAcc/<dms1>) is left out: DMS-2 has no business reading DMS-1's credentials, and
  the account is deleted once the delegation is confirmed.
- Nodes DMS-1 cannot Get are not in the snapshot, so rights DMS-1 holds there without
  Get are not delegated.

Preparation and undo each run as one Atomic, so the handset takes all of it or none
(the Gets stay outside: a handset refuses Get inside Atomic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmclient.bootstrap.mo import FETCH, URL
from dmclient.tree import acl as aclmod
from dmclient.tree import tnds
from dmclient.tree.acl import Acl, AclCommand
from dmclient.tree.formats import NODE
from dmclient.tree.node import Node
from dmclient.tree.tree import TNDS_TYPE
from dmclient.tree.uri import ROOT, UriError, child_path, parent_path, parse as parse_uri, to_uri
from dmclient.wire import StatusCode as S
from servers.delegation.journal import AccountAdded, AclChange, Change, Journal, LeafChange
from servers.delegation.messages import DelType
from servers.delegation.methods import Action
from servers.dm.jobs import Add, Atomic, Delete, Exec, Get, Job, JobCommand, Replace
from servers.dm.records import CommandResult, JobRecord, JobState

DMACC = "./DMAcc"
ACL_LIST = ".?list=TNDS+ACL"
#: What DMS-2 gets on its own account node: all it needs to manage it.
ACCOUNT_RIGHTS = (AclCommand.ADD, AclCommand.DELETE, AclCommand.GET, AclCommand.REPLACE)
#: Statuses an Atomic gives the commands that did not fail themselves.
_BYSTANDERS = (S.ATOMIC_ROLLBACK_OK, S.NOT_EXECUTED)


class PreparationError(ValueError):
    """The work cannot be built from what DMS-1 knows; the message says why."""


# ------------------------------------------------------------------ reading the handset

@dataclass(frozen=True, slots=True)
class Snapshot:
    """The handset as DMS-1 sees it: every node it may Get with its own ACL ("" means
    it inherits), the account names under ./DMAcc, and the leaves it read."""

    acls: dict[str, str]
    accounts: tuple[str, ...]
    leaves: dict[str, str] = field(default_factory=dict)

    def effective(self, path: str) -> Acl:
        """The ACL that decides at `path`: its own, or its nearest ancestor's with one."""
        p: str | None = path
        while p is not None:
            own = self.acls.get(p, "")
            if own:
                return aclmod.parse(own)
            p = parent_path(p)
        return aclmod.parse(aclmod.ROOT_DEFAULT)


def read_job(leaves: tuple[str, ...] = ()) -> Job:
    """Every ACL (as TNDS), the account names, and `leaves` (e.g. the bootstrap URL)."""
    return Job([Get(ACL_LIST), Get(DMACC), *(Get(leaf) for leaf in leaves)])


def snapshot(record: JobRecord) -> Snapshot:
    """The Snapshot in a `read_job`'s record; PreparationError if the read failed."""
    verdict = judge(record)
    if not verdict.ok:
        raise PreparationError(f"cannot read the handset: {verdict.reason}")
    by_uri = {c.uri: c for c in record.commands}
    listing = by_uri[ACL_LIST].data
    text = listing.decode() if isinstance(listing, bytes) else listing or ""
    try:
        entries = tnds.parse(text.encode())
    except tnds.TndsError as exc:
        raise PreparationError(f"the handset's ACL listing is not TNDS: {exc}") from None
    names = _text(by_uri[DMACC])
    leaves = {c.uri: _text(c) for c in record.commands if c.uri not in (ACL_LIST, DMACC)}
    return Snapshot({e.path: e.node.acl for e in entries},
                    tuple(n for n in names.split("/") if n), leaves)


def _text(result: CommandResult) -> str:
    data = result.data
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data or ""


# ------------------------------------------------------------------ judging a job

@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str = ""  # one line naming the failing command, e.g. "425 on Replace ./X?prop=ACL"


def judge(record: JobRecord) -> Verdict:
    """Did the handset take the whole job? If not, name the command that failed: the one
    that failed itself, not the Atomic around it nor the siblings it rolled back."""
    if record.state is JobState.DONE:
        return Verdict(True)
    failed = [c for c in record.commands if not c.ok]
    culprit = next((c for c in failed if c.cmd not in ("Atomic", "Sequence")
                    and c.status not in _BYSTANDERS), failed[0] if failed else None)
    if culprit is None:
        return Verdict(False, f"job {record.job_id} is {record.state.value}")
    what = f"{culprit.cmd} {culprit.uri}".rstrip()
    status = f"{culprit.status} on" if culprit.status is not None else "no answer to"
    detail = f" ({culprit.detail})" if culprit.detail else ""
    return Verdict(False, f"{status} {what}{detail}")


# ------------------------------------------------------------------ ACL arithmetic

def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def _acl_uri(path: str) -> str:
    return f"{to_uri(path)}?prop=ACL"


def _grant(base: Acl, dms1: str, dms2: str) -> Acl:
    return base.with_server(base.commands_for(dms1), dms2)


def acl_grants(snap: Snapshot, dms1: str, dms2: str, del_type: DelType,
               paths: tuple[str, ...] = ()) -> list[AclChange]:
    """The ACL changes that give DMS-2 what the delegation type says (module docstring)."""
    own_account = child_path(DMACC, dms1)
    roots = (ROOT,) if del_type is DelType.FULL else tuple(_canonical(p) for p in paths)
    if not roots:
        raise PreparationError("a partial delegation needs at least one path")
    changes: dict[str, AclChange] = {}
    for root in roots:
        if root not in snap.acls:
            raise PreparationError(f"{root} is not on the handset, or {dms1} may not Get it")
        if not snap.effective(root).commands_for(dms1):
            raise PreparationError(f"{dms1} holds no rights on {root} to delegate")
        for path, own in snap.acls.items():
            if not _under(path, root) or _under(path, own_account) or path in changes:
                continue
            base = snap.effective(path) if path == root else aclmod.parse(own)
            new = _grant(base, dms1, dms2)
            if new != base:  # else DMS-2 holds all of it already (by name or by `*`)
                changes[path] = AclChange(path, own, str(new))
    return list(changes.values())


def _canonical(path: str) -> str:
    try:
        return parse_uri(path).path
    except UriError as exc:
        raise PreparationError(f"bad delegated path {path!r}: {exc}") from None


# ------------------------------------------------------------------ DMS-2's account

@dataclass(frozen=True, slots=True)
class AccountDocument:
    name: str       # the account node under ./DMAcc
    tnds: str       # the document to Add at ./DMAcc, SuppressSession true
    acl: str        # the account node's ACL once DMS-2 has its rights on it


def account_document(dmacc_tnds: str, dms2: str) -> AccountDocument:
    """DMS-2's account from DELEGATION_START, checked to be one account for `dms2` under
    ./DMAcc, with Ext/SuppressSession set to true (added if the document lacks it)."""
    try:
        entries = tnds.parse(dmacc_tnds.encode(), base=DMACC)
    except tnds.TndsError as exc:
        raise PreparationError(f"DMS-2's account is not TNDS: {exc}") from None
    if not entries or parent_path(entries[0].path) != DMACC or not entries[0].node.interior:
        raise PreparationError("DMS-2's account must be one interior node under ./DMAcc")
    account = entries[0].path
    nodes = {e.path: e.node for e in entries}
    if any(not _under(path, account) for path in nodes):
        raise PreparationError(f"DMS-2's account document reaches outside {account}")
    server_id = nodes.get(child_path(account, "ServerID"))
    if server_id is None or server_id.value != dms2:
        raise PreparationError(f"the account at {account} is not for ServerID {dms2}")
    ext = child_path(account, "Ext")
    flag = child_path(ext, "SuppressSession")
    nodes.setdefault(ext, Node(format=NODE))
    nodes[flag] = nodes.get(flag, Node()).evolve(format="bool", value="true")
    # The full form: the account's nonces are runtime values the digest leaves out, but
    # the handset needs them to check DMS-2's first Cred and package 0.
    document = tnds.export(nodes.items(), DMACC, tnds.FULL - {"TStamp", "VerNo"}).decode()
    acl = aclmod.parse(entries[0].node.acl).with_server(ACCOUNT_RIGHTS, dms2)
    return AccountDocument(account.rsplit("/", 1)[1], document, str(acl))


# ------------------------------------------------------------------ the jobs

def preparation_job(snap: Snapshot, action: Action, dms1: str, dms2: str,
                    del_type: DelType, paths: tuple[str, ...] = (), dmacc_tnds: str | None = None,
                    bootstrap_url: str | None = None) -> tuple[Job, Journal]:
    """Step 4 (methods 1-2) or 5 (methods 3-4), as one Atomic, and its journal."""
    commands: list[JobCommand] = []
    changes: list[Change] = []
    if action is Action.PREPARE_WITH_ACCOUNT:
        if not dmacc_tnds:
            raise PreparationError("methods 1-2 need DMS-2's account (DELEGATION_START)")
        account = account_document(dmacc_tnds, dms2)
        if account.name in snap.accounts:
            raise PreparationError(f"{DMACC}/{account.name} already exists on the handset")
        commands += [Add(DMACC, account.tnds, format="xml", type=TNDS_TYPE),
                     Replace(_acl_uri(child_path(DMACC, account.name)), account.acl)]
        changes.append(AccountAdded(account.name))
    elif action is not Action.PREPARE_WITH_URL:
        raise PreparationError(f"{action.name} is not a preparation")
    grants = acl_grants(snap, dms1, dms2, del_type, paths)
    commands += [Replace(_acl_uri(g.path), g.new) for g in grants]
    changes += grants
    if action is Action.PREPARE_WITH_URL:
        if not bootstrap_url:
            raise PreparationError("methods 3-4 need DMS-2's bootstrap server URL")
        if URL not in snap.leaves:
            raise PreparationError(f"read {URL} first: its value is journalled")
        # Exec last: the fetch it starts cannot be rolled back, so nothing may fail after it.
        commands += [Replace(URL, bootstrap_url), Exec(FETCH)]
        changes.append(LeafChange(URL, snap.leaves[URL], bootstrap_url))
    journal = Journal(action, dms1, dms2, snap.accounts, tuple(changes))
    return Job([Atomic(commands)]), journal


def undo_job(journal: Journal, current: Snapshot | None = None) -> Job | None:
    """Put back what the journal says the preparation changed; None if nothing is left.

    With `current` (a `read_job` run now, reading the journal's leaves) only what
    differs is undone, so the job also fits a preparation the handset rolled back or
    a previous undo that got half-way; and an account for DMS-2 that appeared since the
    preparation (installed by DMS-2's bootstrap, methods 3-4) is deleted too. Without
    it, the preparation is taken to have been applied whole, and no bootstrap to have run.
    """
    accounts = [c.name for c in journal.changes if isinstance(c, AccountAdded)]
    if current is not None:
        accounts = [name for name in accounts if name in current.accounts]
        if journal.dms2 in current.accounts and journal.dms2 not in journal.accounts_before:
            accounts = sorted(set(accounts) | {journal.dms2})
    commands: list[JobCommand] = []
    for name in accounts:
        commands += _delete_account(child_path(DMACC, name), journal.dms1)
    for change in reversed(journal.changes):
        if isinstance(change, AclChange) and (
                current is None or current.acls.get(change.path) != change.old):
            commands.append(Replace(_acl_uri(change.path), change.old))
        elif isinstance(change, LeafChange) and (
                current is None or current.leaves.get(change.path) != change.old):
            commands.append(Replace(change.path, change.old))
    return Job([Atomic(commands)]) if commands else None


def _delete_account(account: str, dms1: str) -> list[JobCommand]:
    """DMS-1 may change the account's ACL (it has Replace on ./DMAcc) but not, as a rule,
    delete the account: it gives itself Delete on it first."""
    return [Replace(_acl_uri(account), f"{AclCommand.DELETE.value}={dms1}"), Delete(account)]


def removal_job(snap: Snapshot, dms1: str) -> Job | None:
    """Full delegation, confirmed: delete DMS-1's account and its every ACL entry.

    DMS-1 loses rights as the job runs, so the order is what lets each command pass:
    the account goes first (its own ACL allows that), then ACLs deepest first, so that a
    node whose ACL change rests on its parent's Replace is changed before the parent.
    An emptied command is dropped (the root's becomes `*`), as when the handset deletes
    an account itself (Acl.without_server).
    """
    account = child_path(DMACC, dms1)
    commands: list[JobCommand] = [Delete(account)] if dms1 in snap.accounts else []
    deepest_first = sorted(snap.acls, key=lambda p: p.count("/"), reverse=True)
    for path in deepest_first:
        own = aclmod.parse(snap.acls[path])
        if _under(path, account) or dms1 not in own.servers():
            continue
        commands.append(Replace(_acl_uri(path), str(own.without_server(dms1,
                                                                       is_root=path == ROOT))))
    return Job([Atomic(commands)]) if commands else None
