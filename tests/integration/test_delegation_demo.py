"""The delegation lab on loopback (servers.lab, what `dmlab demo` runs): real sockets,
TLS, a bootstrap server, DMS-1, DMS-2 and a handset, for every method, type and failing
step."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from servers.delegation.messages import DelType
from servers.delegation.methods import METHODS
from servers.lab import Lab, Run, lab_ca
from servers.pki import LabCA

TYPES = [DelType.FULL, DelType.PARTIAL]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LabCA:
    return lab_ca(tmp_path_factory.mktemp("lab"))


def delegate(ca: LabCA, method: int, del_type: DelType,
             fail_at: int | None = None) -> tuple[Run, Run | None, list[int]]:
    """One delegation; after a rolled-back one, a second without the fault; and how
    many delegations each server still holds (engines and stored state)."""
    async def main() -> tuple[Run, Run | None, list[int]]:
        async with Lab(ca, fail_at=fail_at) as lab:
            run = await lab.delegate(method, del_type, timeout=15)
            left = [len(s.engines) + len(s.store.running()) for s in lab.services.values()]
            if run.outcome == "rolled_back":  # nor does dms2 keep the handset it enrolled,
                left.append(int(lab.services["dms2"].dm.config.device(lab.device_id) is not None))
                held = [b for b in lab.bootstrap_server.bootstraps(lab.device_id)  # nor a
                        if b.state.value == "pending"]                           # bootstrap
                left.append(len(held))
            again = None
            if run.outcome == "rolled_back":
                for service in lab.services.values():
                    service.fail_at = None
                again = await lab.delegate(method, del_type, timeout=15)
            return run, again, left
    return asyncio.run(main())


def flow(method: int) -> list[tuple[str, str, str]]:
    ids = {"DMS-1": "dms1", "DMS-2": "dms2"}
    return [(ids[a.value], ids[b.value], kind.value)
            for a, b, kind in METHODS[method].message_flow()]


@pytest.mark.parametrize("del_type", TYPES, ids=["full", "partial"])
@pytest.mark.parametrize("method", [1, 2, 3, 4])
def test_every_method_confirms(ca: LabCA, method: int, del_type: DelType) -> None:
    run, _, left = delegate(ca, method, del_type)
    assert run.outcome == "confirmed" and run.failure is None
    assert [(m["from"], m["to"], m["kind"]) for m in run.messages] == flow(method)
    to_dms2 = [s for s in run.sessions if s.get("server") == "dms2"]
    if method in (1, 2):
        assert to_dms2 == [{"server": "dms2", "initiator": "server", "outcome": "completed"}]
        assert not any("bootstrap" in s for s in run.sessions)
    else:
        assert to_dms2 == [{"server": "dms2", "initiator": "client", "outcome": "completed"}]
        assert [s["outcome"] for s in run.sessions if "bootstrap" in s] == ["installed"]
    expected = ["dms2"] if del_type is DelType.FULL else ["dms1", "dms2"]
    assert run.accounts_before == ["dms1"] and run.accounts_after == expected
    acls = run.acls_after
    if del_type is DelType.FULL:
        assert not any("dms1" in acl for acl in acls.values())
        assert acls["./Vendor/DMLab"] == "Add=dms2&Delete=dms2&Exec=dms2&Get=dms2&Replace=dms2"
    else:
        assert acls["./Vendor/DMLab"] == ("Add=dms1+dms2&Delete=dms1+dms2&Exec=dms1+dms2&"
                                          "Get=dms1+dms2&Replace=dms1+dms2")
        assert acls["./DMAcc"] == run.acls_before["./DMAcc"]
    assert left == [0, 0]


ROLLBACKS = [(m, step) for m in (1, 2, 3, 4) for step in METHODS[m].rollback_steps]


@pytest.mark.parametrize("del_type", TYPES, ids=["full", "partial"])
@pytest.mark.parametrize("method, step", ROLLBACKS)
def test_a_failure_before_completion_rolls_back(ca: LabCA, method: int, step: int,
                                                del_type: DelType) -> None:
    run, again, left = delegate(ca, method, del_type, fail_at=step)
    assert run.outcome == "rolled_back"
    assert run.failure is not None and run.failure["step"] == step
    assert run.tree_after == run.tree_before
    assert run.accounts_after == ["dms1"]
    assert left == [0, 0, 0, 0]
    assert again is not None and again.outcome == "confirmed"


@pytest.mark.parametrize("method", [1, 3])
def test_a_failed_removal_leaves_the_delegation_confirmed(ca: LabCA, method: int) -> None:
    last = len(METHODS[method].steps)
    run, _, _ = delegate(ca, method, DelType.FULL, fail_at=last)
    assert run.outcome == "confirmed"
    assert run.failure is not None and run.failure["step"] == last
    assert "dms1" in run.accounts_after and "dms2" in run.accounts_after


def test_dmlab_demo_json(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "dmclient.cli", "demo", "--json",
                           "--encoding", "wbxml"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    runs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["method"], r["type"], r["outcome"]) for r in runs] == [
        (m, "full", "confirmed") for m in (1, 2, 3, 4)]
    assert all(r["accounts_after"] == ["dms2"] and r["tree_after"] != r["tree_before"]
               for r in runs)


def test_dmlab_demo_refuses_a_step_the_method_does_not_have() -> None:
    proc = subprocess.run([sys.executable, "-m", "dmclient.cli", "demo", "--method", "1",
                           "--fail-at", "9"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip() == "dmlab: error: --fail-at 9: method 1 has steps 1-8"


def test_twenty_delegations_of_twenty_handsets_at_once(ca: LabCA) -> None:
    """Every method and type, five of each kind, all in flight together on one lab."""
    plan = [(1 + n % 4, (DelType.FULL, DelType.PARTIAL)[n // 4 % 2]) for n in range(20)]

    async def main() -> list[Run]:
        async with Lab(ca, handsets=20) as lab:
            runs = await asyncio.gather(*(lab.delegate(method, del_type, handset=n, timeout=120)
                                          for n, (method, del_type) in enumerate(plan)))
            assert all(h.tree.get("./DevInfo/DevId").value == h.device_id for h in lab.handsets)
            assert len({h.device_id for h in lab.handsets}) == 20
            assert all(not s.outcomes or all(o.status.value != "running"
                                             for o in s.outcomes.values())
                       for s in lab.services.values())
            return runs

    runs = asyncio.run(main())
    assert [r.outcome for r in runs] == ["confirmed"] * 20, [r.failure for r in runs]
    for run, (method, del_type) in zip(runs, plan):
        assert [(m["from"], m["to"], m["kind"]) for m in run.messages] == flow(method)
        expected = ["dms2"] if del_type is DelType.FULL else ["dms1", "dms2"]
        assert run.accounts_after == expected
