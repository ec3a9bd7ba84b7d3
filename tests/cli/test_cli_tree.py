"""`dmlab tree …` as a user runs it: a real process, real files, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def dmlab(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dmclient.cli", *args],
                          capture_output=True, timeout=60)
    if ok:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


def error_line(proc: subprocess.CompletedProcess) -> str:
    """A failure is one line on stderr and a non-zero exit, never a traceback."""
    assert proc.returncode != 0
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], proc.stderr.decode()
    return lines[0]


def test_show_prints_values_formats_acls_and_masks_secrets() -> None:
    out = dmlab("tree", "show").stdout.decode()
    assert "DevId (chr) = IMEI:358240051111110" in out
    assert "[Add=dms1&Get=dms1&Replace=dms1]" in out and "permanent" in out
    assert "handset-secret" not in out and "••••••" in out
    sub = dmlab("tree", "show", "./Vendor/DMLab/Settings").stdout.decode()
    assert sub.splitlines()[0].startswith("Settings") and "DevInfo" not in sub


def test_get_and_can_json() -> None:
    assert dmlab("tree", "get", "./DevInfo/DevId").stdout == b"IMEI:358240051111110\n"
    proc = dmlab("tree", "can", "dms2", "Replace", "./DMAcc/dms1?prop=ACL", "--json")
    assert json.loads(proc.stdout) == {"allowed": False, "decided_by": "./DMAcc"}
    proc = dmlab("tree", "can", "dms1", "Get", "./Vendor/DMLab/Settings/Greeting", "--json")
    assert json.loads(proc.stdout) == {"allowed": True, "decided_by": "./Vendor/DMLab"}
    denied = dmlab("tree", "get", "--server-id", "dms2", "./DMAcc/dms1", ok=False)
    assert "425" in error_line(denied)


def test_export_load_export_gives_the_same_bytes(tmp_path: Path) -> None:
    first = dmlab("tree", "export").stdout
    (tmp_path / "exported.xml").write_bytes(first)
    again = dmlab("tree", "export", "--profile", str(tmp_path / "exported.xml")).stdout
    assert again == first


def test_store_init_import_export_digest(tmp_path: Path) -> None:
    store = str(tmp_path / "h.sqlite")
    dmlab("tree", "init", "--store", store)
    before = dmlab("tree", "digest", "--store", store).stdout
    assert before == dmlab("tree", "digest").stdout  # nothing differs from the profile yet
    doc = tmp_path / "add.xml"
    doc.write_text("<MgmtTree><Node><NodeName>Apps</NodeName><Path>./Vendor/DMLab</Path>"
                   "<Node><NodeName>game</NodeName><Node><NodeName>Version</NodeName>"
                   "<Value>2.0</Value></Node></Node></Node></MgmtTree>")
    assert b"imported 3 nodes" in dmlab("tree", "import", "--store", store, str(doc)).stdout
    assert dmlab("tree", "get", "--store", store,
                 "./Vendor/DMLab/Apps/game/Version").stdout == b"2.0\n"
    assert dmlab("tree", "digest", "--store", store).stdout != before
    assert b"<NodeName>game</NodeName>" in dmlab("tree", "export", "--store", store,
                                                 "--canonical").stdout


def test_bad_import_changes_nothing(tmp_path: Path) -> None:
    store = str(tmp_path / "h.sqlite")
    dmlab("tree", "init", "--store", store)
    before = dmlab("tree", "export", "--store", store).stdout
    doc = tmp_path / "bad.xml"
    doc.write_text("<MgmtTree><Node><NodeName>x</NodeName><Path>./Vendor/DMLab</Path>"
                   "<Value>1</Value></Node><Node><NodeName>DevId</NodeName>"
                   "<Path>./DevInfo</Path><RTProperties><Format><node/></Format>"
                   "</RTProperties></Node></MgmtTree>")
    line = error_line(dmlab("tree", "import", "--store", store, str(doc), ok=False))
    assert "nothing imported" in line
    assert dmlab("tree", "export", "--store", store).stdout == before


@pytest.mark.parametrize("args, expected", [
    (["tree", "show", "--profile", "/no/such/profile.xml"], "cannot read profile"),
    (["tree", "show", "--store", "/no/such/store.sqlite"], "no store at"),
    (["tree", "get", "./DevInfo/../DMAcc"], "'..' is not allowed"),
    (["tree", "get", "./Nope"], "404"),
    (["tree", "show", "./a\x01b"], "not allowed"),
])
def test_one_line_errors(args: list[str], expected: str) -> None:
    assert expected in error_line(dmlab(*args, ok=False))


def test_unparsable_profile_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<MgmtTree><Node>")
    assert "not well-formed" in error_line(dmlab("tree", "show", "--profile", str(bad),
                                                 ok=False))
    not_a_store = tmp_path / "x.sqlite"
    not_a_store.write_bytes(b"this is not sqlite" * 100)
    assert "x.sqlite" in error_line(dmlab("tree", "show", "--store", str(not_a_store),
                                          ok=False))
