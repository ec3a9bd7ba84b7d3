"""Memory per idle handset, and tree operations per second with ACL checks.

    python tools/bench/tree_bench.py [--handsets N] [--seconds S] [--check]

(a) Memory, measured with tracemalloc: N handsets (default 10,000) made from the default
    profile, which is loaded once and shared. Each is touched as a live idle handset would
    be (one Get of ./DevInfo/DevId, which fills its lazy URI-limit cache) and all are kept
    alive. Rows: idle handsets; handsets with a typical small difference (3 Replaces under
    ./Vendor/DMLab/Settings); idle handsets opened from a SQLite store. Caches shared by
    every handset (the parsed-URI and parsed-ACL caches) are warmed first and not counted.
    Target: under 20 KB per idle handset (PASS/FAIL is printed; --check exits 1 on FAIL).

(b) Speed: Get and Replace as ServerID dms1 (so every operation evaluates the inherited
    ACL of ./Vendor/DMLab) on the leaves of ./Vendor/DMLab/Settings, in memory and on a
    handset in a SQLite store, where each Replace is one committed SQLite transaction.
    Each row runs for S seconds (default 1.5). Device-authority rows (no ACL) are given
    for comparison.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dmclient.tree import Tree, TreeStore, load_profile  # noqa: E402
from dmclient.tree.profile import Profile  # noqa: E402

TARGET_BYTES = 20 * 1024
SETTINGS = "./Vendor/DMLab/Settings"
SERVER = "dms1"
READS = [f"{SETTINGS}/Greeting", f"{SETTINGS}/PollInterval", f"{SETTINGS}/Telemetry"]
#: Valid values for each leaf's format (chr, int, bool), cycled so every Replace changes it.
WRITES = [
    (f"{SETTINGS}/Greeting", ["Hello", "Bonjour", "Hallo", "Ciao"]),
    (f"{SETTINGS}/PollInterval", ["0", "15", "60", "1440"]),
    (f"{SETTINGS}/Telemetry", ["true", "false"]),
]


# ---------------------------------------------------------------------- memory

def _touch_idle(tree: Tree) -> None:
    result = tree.get("./DevInfo/DevId")
    assert result.ok, result


def _small_diff(tree: Tree) -> None:
    _touch_idle(tree)
    for n, (uri, values) in enumerate(WRITES):
        result = tree.replace(uri, SERVER, value=values[1 + n % (len(values) - 1)])
        assert result.ok, result


def measure(make: Callable[[int], Tree], touch: Callable[[Tree], None], count: int) -> float:
    """Bytes traced per handset for `count` live handsets."""
    warm = make(-1)          # fill the shared caches outside the measurement
    touch(warm)
    del warm
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        handsets = []
        for n in range(count):
            tree = make(n)
            touch(tree)
            handsets.append(tree)
        gc.collect()
        now, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(handsets) == count
    return (now - base) / count


def memory_rows(profile: Profile, count: int, tmp: str) -> list[tuple[str, float]]:
    rows = [
        ("idle handset (Tree(profile) + 1 Get)",
         measure(lambda n: Tree(profile), _touch_idle, count)),
        ("handset with 3 Replaces (dms1)",
         measure(lambda n: Tree(profile), _small_diff, count)),
    ]
    db = os.path.join(tmp, "fleet.db")
    with TreeStore(db, create=True) as store:
        for n in range(count):
            store.new_handset(f"h{n}", profile)
        warm_id = "h-warm"
        store.new_handset(warm_id, profile)
        rows.append(("idle handset opened from a store",
                     measure(lambda n: store.open_handset(warm_id if n < 0 else f"h{n}"),
                             _touch_idle, count)))
    return rows


# ---------------------------------------------------------------------- speed

def rate(op: Callable[[int], object], seconds: float) -> float:
    """Operations per second of op(i), run for about `seconds`."""
    for i in range(200):  # warm up
        op(i)
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for i in range(done, done + 500):
            op(i)
        done += 500
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def _getter(tree: Tree, server: str | None) -> Callable[[int], object]:
    reads = READS

    def get(i: int) -> None:
        result = tree.get(reads[i % 3], server)
        if not result.ok:
            raise AssertionError(result)
    return get


def _replacer(tree: Tree, server: str | None) -> Callable[[int], object]:
    plan = list(itertools.islice(
        ((uri, values[k % len(values)]) for k in itertools.count() for uri, values in WRITES),
        3 * 4 * 2))  # every value differs from the one before it on the same leaf

    def replace(i: int) -> None:
        uri, value = plan[i % len(plan)]
        result = tree.replace(uri, server, value=value)
        if not result.ok:
            raise AssertionError(result)
    return replace


def speed_rows(profile: Profile, seconds: float, tmp: str) -> list[tuple[str, str, float]]:
    memory = Tree(profile)
    db = os.path.join(tmp, "speed.db")
    store = TreeStore(db, create=True)
    try:
        stored = store.new_handset("bench", profile)
        rows = [
            ("Get", f"in memory, ACL as {SERVER}", rate(_getter(memory, SERVER), seconds)),
            ("Replace", f"in memory, ACL as {SERVER}", rate(_replacer(memory, SERVER), seconds)),
            ("Get", f"SQLite store, ACL as {SERVER}", rate(_getter(stored, SERVER), seconds)),
            ("Replace", f"SQLite store, ACL as {SERVER} (1 commit each)",
             rate(_replacer(stored, SERVER), seconds)),
            ("Get", "in memory, device (no ACL)", rate(_getter(memory, None), seconds)),
            ("Replace", "in memory, device (no ACL)", rate(_replacer(memory, None), seconds)),
        ]
    finally:
        store.close()
    return rows


# ---------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handsets", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="time per operations-per-second row")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when memory per idle handset misses the target")
    args = parser.parse_args()

    started = time.perf_counter()
    profile = load_profile("default")
    print(f"profile: {profile.source} ({len(profile.nodes)} nodes, loaded once, shared)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")

    with tempfile.TemporaryDirectory(prefix="tree_bench_") as tmp:
        mem = memory_rows(profile, args.handsets, tmp)
        print(f"Memory per handset ({args.handsets:,} live handsets, tracemalloc)")
        print(f"  {'handset':<40} {'bytes':>8} {'KB':>7} {'total MB':>9}")
        for label, per in mem:
            print(f"  {label:<40} {per:>8.0f} {per / 1024:>7.2f} "
                  f"{per * args.handsets / 2**20:>9.2f}")
        idle = mem[0][1]
        verdict = "PASS" if idle < TARGET_BYTES else "FAIL"
        print(f"  target: idle handset < {TARGET_BYTES // 1024} KB -> {verdict} "
              f"({idle:.0f} bytes)\n")

        speed = speed_rows(profile, args.seconds, tmp)
    print(f"Operations per second (leaves of {SETTINGS}, {args.seconds:g} s per row)")
    print(f"  {'op':<8} {'where':<44} {'ops/s':>10} {'µs/op':>8}")
    for op, where, ops in speed:
        print(f"  {op:<8} {where:<44} {ops:>10,.0f} {1e6 / ops:>8.1f}")
    by = {(op, where): ops for op, where, ops in speed}
    ratio = (by[("Replace", f"SQLite store, ACL as {SERVER} (1 commit each)")]
             / by[("Replace", f"in memory, ACL as {SERVER}")])
    print(f"  stored / in-memory Replace = {ratio:.2f}")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 1 if args.check and verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
