"""A handset killed with SIGKILL in the middle of a batch reopens consistent.

A child process opens a real SQLite store and writes batches forever. Batch i, in one
`tree.transaction()`, deletes one group of apps (and re-adds its leaves), replaces every
other leaf, and sets a counter leaf: afterwards all 50 leaves hold `i|` plus 1 KB of
padding and the counter holds i. After each commit the child prints `committed i`. The
test kills it with SIGKILL at a random moment, five times, and after each kill reopens
the store and checks that every leaf holds the same batch number (no batch half-applied),
that this number is the last one the child reported or the one after it (committed, but
killed before it could print), and that the export loads back as a profile."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from dmclient.tree import Tree, TreeStore, load_profile, tnds
from dmclient.tree.profile import Profile

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

APPS = "./Vendor/DMLab/Apps"
GROUPS = 5
PER_GROUP = 10
LEAVES = [f"{APPS}/g{g}/L{k}" for g in range(GROUPS) for k in range(PER_GROUP)]  # 50
ROUNDS = 5
PAD = 1000               # bytes of bulk per leaf value (50 KB per batch)
MIN_COMMITS = 3          # batches the child must report before a kill may come
START_TIMEOUT = 60.0     # seconds for a child to report MIN_COMMITS (the machine is shared)

CHILD = textwrap.dedent('''
    import sys
    from dmclient.tree import TreeStore

    APPS = "./Vendor/DMLab/Apps"
    GROUPS, PER_GROUP = {groups}, {per_group}
    store = TreeStore(sys.argv[1])
    tree = store.open_handset("crash")

    counter = tree.node(APPS + "/counter")
    i = int(counter.value) if counter is not None else 0
    PAD = "x" * {pad}  # bulk, so that a good share of each batch is SQLite writing
    print("ready", i, flush=True)

    def check(result):
        if not result.ok:
            raise SystemExit(f"batch {{i}}: {{result}}")

    while True:
        i += 1
        value = f"{{i}}|{{PAD}}"
        with tree.transaction():
            doomed = i % GROUPS
            if tree.node(f"{{APPS}}/g{{doomed}}") is not None:
                check(tree.delete(f"{{APPS}}/g{{doomed}}", "dms1"))
            for g in range(GROUPS):
                for k in range(PER_GROUP):
                    leaf = f"{{APPS}}/g{{g}}/L{{k}}"
                    if tree.node(leaf) is None:
                        check(tree.add(leaf, "dms1", value=value, format="chr"))
                    else:
                        check(tree.replace(leaf, "dms1", value=value))
            if tree.node(APPS + "/counter") is None:
                check(tree.add(APPS + "/counter", None, value=str(i), format="int"))
            else:
                check(tree.replace(APPS + "/counter", None, value=str(i)))
        sys.stdout.write(f"committed {{i}}\\n")  # one write: whole lines, or none
        sys.stdout.flush()
''').format(groups=GROUPS, per_group=PER_GROUP, pad=PAD)


class Child:
    """The writer process, with a thread collecting what it prints."""

    def __init__(self, script: Path, store: Path) -> None:
        repo = Path(__file__).resolve().parents[2]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(repo)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(store)], cwd=repo, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.committed = threading.Condition()
        self.last = -1
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.endswith("\n"):
                break  # cut short by the kill: its commit is covered by the +1 slack
            with self.committed:
                self.lines.append(line.rstrip("\n"))
                word, _, number = line.partition(" ")
                if word == "committed":
                    self.last = int(number)
                self.committed.notify_all()

    def wait_for_commits(self, n: int, timeout: float) -> int:
        """Block until the child reports its n-th commit of this run; the first number."""
        deadline = time.monotonic() + timeout
        with self.committed:
            while True:
                firsts = [int(s.split()[1]) for s in self.lines if s.startswith("ready")]
                if firsts and self.last >= firsts[0] + n:
                    return firsts[0]
                if self.proc.poll() is not None:
                    raise AssertionError(f"writer exited early ({self.proc.returncode}): "
                                         f"{self.proc.stderr.read() if self.proc.stderr else ''}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"writer reported {self.lines[-3:]} in {timeout}s")
                self.committed.wait(min(left, 0.5))

    def kill(self) -> int:
        """SIGKILL the child; every line it printed is read; the last commit it reported."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.last


def _read_batch_numbers(store_path: Path) -> tuple[set[str], str | None, bytes]:
    with TreeStore(store_path) as store:
        tree = store.open_handset("crash")
        values = set()
        for leaf in LEAVES:
            node = tree.node(leaf)
            values.add(None if node is None else node.value)
        counter = tree.node(f"{APPS}/counter")
        return values, (None if counter is None else counter.value), tree.export()


def test_sigkill_mid_batch_reopens_to_a_whole_batch(tmp_path: Path) -> None:
    profile = load_profile("default")
    store_path = tmp_path / "handset.db"
    with TreeStore(store_path, create=True) as store:
        store.new_handset("crash", profile)
    script = tmp_path / "writer.py"
    script.write_text(CHILD)
    seed = os.getpid() ^ int(time.time())
    rng = random.Random(seed)
    seen: list[tuple[int, int, float]] = []

    for round_no in range(ROUNDS):
        child = Child(script, store_path)
        try:
            first = child.wait_for_commits(MIN_COMMITS, START_TIMEOUT)
            # Kill at a random moment: batches take milliseconds, so this lands anywhere
            # in a batch, in Python building it or in SQLite writing it.
            delay = rng.uniform(0.0, 0.25)
            time.sleep(delay)
        finally:
            reported = child.kill()
        assert child.proc.returncode == -signal.SIGKILL, child.lines[-3:]

        values, counter, export = _read_batch_numbers(store_path)
        numbers = sorted(str(v).partition("|")[0] for v in values)
        assert len(values) == 1, (
            f"round {round_no} (seed {seed}): a batch was half applied: {numbers}")
        (value,) = values
        assert value is not None, f"round {round_no}: leaves missing"
        number, _, pad = value.partition("|")
        assert pad == "x" * PAD and counter == number
        batch = int(number)
        # Every reported commit survives; at most one more batch committed unreported.
        assert reported <= batch <= reported + 1, (reported, batch)
        assert batch > first
        # The stored tree exports, and the export loads as a profile that exports the same.
        assert _export_round_trips(export)
        seen.append((first, batch, delay))

    # Each round went on from where the previous one was killed.
    for (_, before, _), (first, _, _) in zip(seen, seen[1:]):
        assert first == before


def _export_round_trips(export: bytes) -> bool:
    entries = tnds.parse(export)
    assert any(e.path == f"{APPS}/counter" for e in entries)
    return Tree(Profile.from_tnds(export, "after-crash")).export() == export
