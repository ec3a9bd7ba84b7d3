"""`dmlab codec …` as a user runs it, on the wire corpus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dmclient import wire

CORPUS = Path(__file__).resolve().parents[1] / "wire" / "corpus"


def dmlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dmclient.cli", *args], capture_output=True,
                          timeout=60)


def test_encode_then_decode_is_the_same_message(tmp_path: Path) -> None:
    source = CORPUS / "pkg2_server.xml"
    wbxml = dmlab("codec", "encode", "--to", "wbxml", str(source))
    assert wbxml.returncode == 0 and wbxml.stdout[:1] == b"\x02"
    (tmp_path / "m.wbxml").write_bytes(wbxml.stdout)
    xml = dmlab("codec", "decode", str(tmp_path / "m.wbxml"))
    assert xml.returncode == 0 and xml.stdout.startswith(b"<?xml")
    assert b"\n  <SyncHdr>" in xml.stdout  # indented for people
    assert wire.decode(xml.stdout) == wire.decode(source.read_bytes())
    back = dmlab("codec", "encode", "--to", "xml", str(tmp_path / "m.wbxml"))
    assert wire.decode(back.stdout) == wire.decode(source.read_bytes())


def test_bad_file_is_one_line_with_the_byte_offset(tmp_path: Path) -> None:
    body = wire.encode_wbxml(wire.decode((CORPUS / "pkg2_server.xml").read_bytes()))
    (tmp_path / "cut.wbxml").write_bytes(body[:len(body) // 2])
    proc = dmlab("codec", "decode", str(tmp_path / "cut.wbxml"))
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1
    assert "cut.wbxml" in lines[0] and "at byte" in lines[0]
    (tmp_path / "bad.xml").write_bytes(b"<SyncML><SyncHdr>\n<oops</SyncML>")
    proc = dmlab("codec", "decode", str(tmp_path / "bad.xml"))
    assert proc.returncode == 1 and "at byte" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()
