"""`dmlab delegate` on a lab run from the command line: `dmlab pki init`, a bootstrap
server, DMS-1 and DMS-2 (`dmlab server dm` with [delegation] tables naming each other)
and a handset (`dmlab handset run`), each a process of its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from dmclient.handset import NOTIFICATION_PATH
from dmclient.tree import TreeStore
from servers.lab import DMS1_DEVICE, PIN

DEVID = "IMEI:358240051111110"


def dmlab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dmclient.cli", *args], capture_output=True,
                          text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(stack: ExitStack, log: Path, *args: str, ready: str) -> None:
    """A long-running `dmlab` process, its output in `log`, stopped with `stack`, once
    it has said `ready`."""
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "dmclient.cli", *args],
                                   stdout=out, stderr=subprocess.STDOUT)
    stack.callback(process.wait, 10)
    stack.callback(process.terminate)
    deadline = time.monotonic() + 30
    while ready not in log.read_text():
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def dm_config(server_id: str, ports: dict[str, int], peer: str, extra: str) -> str:
    return f"""
[server]
server_id = "{server_id}"
listen = "127.0.0.1:{ports[server_id]}"
url = "https://127.0.0.1:{ports[server_id]}/dm"
tls_cert = "pki/{server_id}.pem"
tls_key = "pki/{server_id}.key"

[delegation]
listen = "127.0.0.1:{ports[server_id + '-link']}"
ca = "pki/ca.pem"
step_timeout = 30
{extra}
[delegation.peers]
{peer} = "https://127.0.0.1:{ports[peer + '-link']}/delegation"
"""


@pytest.mark.parametrize("method", [1, 3])
def test_delegate_from_the_command_line(tmp_path: Path, method: int) -> None:
    dmlab("pki", "init", str(tmp_path / "pki"))
    ports = {name: free_port() for name in
             ("dms1", "dms1-link", "dms2", "dms2-link", "bootstrap", "handset")}
    boot = f"https://127.0.0.1:{ports['bootstrap']}"
    (tmp_path / "bootstrap.toml").write_text(f"""
[server]
url = "{boot}/bootstrap"
listen = "127.0.0.1:{ports['bootstrap']}"
tls_cert = "pki/bootstrap.pem"
tls_key = "pki/bootstrap.key"
""")
    device = "\n".join(f'{key} = "{value}"' for key, value in DMS1_DEVICE.items())
    (tmp_path / "dms1.toml").write_text(dm_config("dms1", ports, "dms2", "") + f"""
[[devices]]
device_id = "{DEVID}"
notify_url = "http://127.0.0.1:{ports['handset']}{NOTIFICATION_PATH}"
{device}
""")
    (tmp_path / "dms2.toml").write_text(dm_config("dms2", ports, "dms1", f"""
bootstrap_url = "{boot}/bootstrap"
bootstrap_admin = "{boot}"
bootstrap_pin = "{PIN}"
"""))
    store, ca = str(tmp_path / "handset.sqlite"), str(tmp_path / "pki" / "ca.pem")
    dmlab("tree", "init", "--store", store)
    with TreeStore(store) as s:
        s.open_handset().replace("./DMAcc/dms1/AppAddr/1/Addr", None,
                                 value=f"https://127.0.0.1:{ports['dms1']}/dm")
    with ExitStack() as stack:
        start(stack, tmp_path / "bootstrap.log", "server", "bootstrap",
              "--config", str(tmp_path / "bootstrap.toml"), ready="listening")
        for server_id in ("dms1", "dms2"):
            start(stack, tmp_path / f"{server_id}.log", "server", "dm",
                  "--config", str(tmp_path / f"{server_id}.toml"), ready="delegation link")
        start(stack, tmp_path / "handset.log", "handset", "run", "--store", store, "--listen",
              f"127.0.0.1:{ports['handset']}", "--ca", ca, "--pin", PIN,
              ready="listening for package 0")
        dms1, dms2 = (f"https://127.0.0.1:{ports[s]}" for s in ("dms1", "dms2"))
        ask = ["--device", DEVID, "--method", str(method), "--type", "full", "--ca", ca]

        wrong = dmlab("delegate", "--from", dms2, "--to", "dms1", *ask, check=False)
        assert wrong.returncode == 1
        assert f"method {method} starts at DMS-1" in wrong.stderr, wrong.stderr

        done = dmlab("delegate", "--from", dms1, "--to", "dms2", *ask, "--wait", "50", "--json")
        record = json.loads(done.stdout)
        assert record["status"] == "confirmed", record
        assert record["messages"][0] == {"from": "dms1", "to": "dms2",
                                         "kind": "DELEGATION_NOTIF"}
        assert record["messages"][-1]["kind"] == "DELEGATION_CONFIRM"
    accounts = dmlab("tree", "get", "--store", store, "./DMAcc").stdout
    assert "dms2" in accounts.split() and "dms1" not in accounts.split(), accounts
