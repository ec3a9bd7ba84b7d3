"""The handset against the reference DM server over real loopback sockets.

The matrix: HTTP and HTTPS (a lab CA) x XML and WBXML x basic, md5 and HMAC (both ways)
x client- and server-initiated (package 0 pushed by the server to the handset's
listener). Then the whole thing as a user runs it: `dmlab` commands in subprocesses.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from dmclient.handset import Handset, SessionSummary
from dmclient.tree import Tree, TreeStore, load_profile
from dmclient.wire import Encoding
from servers.dm import DeviceConfig, DMServer, JobState, Registry, ServerConfig, parse_job
from servers.http import start_dm
from servers.pki import LabCA, client_context

DEVID = "IMEI:358240051111110"
GREETING = "./Vendor/DMLab/Settings/Greeting"
JOB = {"commands": [
    {"cmd": "Get", "uri": "./DevInfo/Mod"},
    {"cmd": "Replace", "uri": GREETING, "data": "over the wire"},
    {"cmd": "Add", "uri": "./Vendor/DMLab/Apps/game", "format": "node"},
    {"cmd": "Atomic", "commands": [
        {"cmd": "Replace", "uri": "./Vendor/DMLab/Settings/Telemetry", "data": "true"},
        {"cmd": "Delete", "uri": "./DevInfo"}]},
    {"cmd": "Get", "uri": GREETING},
]}


@pytest.fixture(scope="module")
def lab_ca(tmp_path_factory: pytest.TempPathFactory) -> LabCA:
    ca = LabCA.create(tmp_path_factory.mktemp("pki"))
    ca.issue("dms1")
    return ca


def device(auth: str, notify_url: str | None,
           server_secret: str = "dms1-secret") -> DeviceConfig:
    return DeviceConfig(device_id=DEVID, client_auth=auth, client_secret="handset-secret",
                        client_nonce="Y2xpZW50LW5vbmNlLTE=", server_auth=auth,
                        server_secret=server_secret, server_nonce="c2VydmVyLW5vbmNlLTE=",
                        notify_url=notify_url)


async def scenario(ca: LabCA, scheme: str, encoding: Encoding, auth: str,
                   initiator: str) -> None:
    tree = Tree(load_profile("default"))
    for side in ("ClientSide", "ServerSide"):
        tree.replace(f"./DMAcc/dms1/AppAuth/{side}/AAuthType", None, value=auth)
    https = scheme == "https"
    handset = Handset(tree, encoding=encoding, ca_file=str(ca.ca_file) if https else None)
    listener = await handset.listen()
    notify = f"http://127.0.0.1:{listener}/notification" if initiator == "server" else None
    config = ServerConfig(server_id="dms1", url=f"{scheme}://127.0.0.1:0/dm",
                          listen="127.0.0.1:0", encoding=encoding, devices=[device(auth, notify)],
                          tls_cert=str(ca.directory / "dms1.pem") if https else None,
                          tls_key=str(ca.directory / "dms1.key") if https else None)
    server = DMServer(config, Registry(), clock=time.time)
    runner, port = await start_dm(server)
    base = f"{scheme}://127.0.0.1:{port}"
    config.url = f"{base}/dm"
    tree.replace("./DMAcc/dms1/AppAddr/1/Addr", None, value=config.url)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/admin/jobs", json={"device": DEVID, "job": JOB},
                                 ssl=client_context(ca.ca_file) if https else True) as answer:
                queued = await answer.json()
        assert queued["notified"] is (initiator == "server"), queued
        if initiator == "client":
            summary = await handset.connect("dms1")
        else:
            record = handset.notifications[-1]
            assert record.verdict.value == "accepted"
            summary = await record.session
        assert summary.outcome.value == "completed", summary.reason
        assert summary.initiator == initiator
        job = server.job(queued["job_id"])
        assert job.state is JobState.FAILED  # the Atomic is refused, on purpose
        statuses = [(c.cmd, c.status) for c in job.commands]
        assert statuses == [("Get", 200), ("Replace", 200), ("Add", 200), ("Atomic", 507),
                            ("Replace", 216), ("Delete", 425), ("Get", 200)]
        assert job.commands[0].data == "Virtual Handset 1"
        assert job.commands[-1].data == "over the wire"
        assert tree.get("./Vendor/DMLab/Settings/Telemetry").value == "false"
        assert server.sessions(DEVID)[-1].initiator.value == initiator
    finally:
        await handset.stop()
        await runner.cleanup()


@pytest.mark.parametrize("initiator", ["client", "server"])
@pytest.mark.parametrize("auth", ["BASIC", "DIGEST", "HMAC"])
@pytest.mark.parametrize("encoding", [Encoding.XML, Encoding.WBXML], ids=["xml", "wbxml"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_matrix(lab_ca: LabCA, scheme: str, encoding: Encoding, auth: str,
                initiator: str) -> None:
    asyncio.run(scenario(lab_ca, scheme, encoding, auth, initiator))


# ---------------------------------------------------------------- as a user runs it

def dmlab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dmclient.cli", *args], capture_output=True,
                          text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_a_lab_from_the_command_line(tmp_path: Path) -> None:
    dmlab("pki", "init", str(tmp_path / "pki"), "--server", "dms1")
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://127.0.0.1:{port}/dm"
    (tmp_path / "dms1.toml").write_text(f"""
[server]
server_id = "dms1"
listen = "127.0.0.1:{port}"
url = "{url}"
tls_cert = "pki/dms1.pem"
tls_key = "pki/dms1.key"
database = "dms1.sqlite"

[[devices]]
device_id = "{DEVID}"
client_secret = "handset-secret"
client_nonce = "Y2xpZW50LW5vbmNlLTE="
server_secret = "dms1-secret"
server_nonce = "c2VydmVyLW5vbmNlLTE="
""")
    (tmp_path / "job.json").write_text(json.dumps(JOB))
    store = str(tmp_path / "handset.sqlite")
    ca = str(tmp_path / "pki" / "ca.pem")
    dmlab("tree", "init", "--store", store)
    with TreeStore(store) as s:
        s.open_handset().replace("./DMAcc/dms1/AppAddr/1/Addr", None, value=url)
    server = subprocess.Popen([sys.executable, "-m", "dmclient.cli", "server", "dm", "--config",
                               str(tmp_path / "dms1.toml")], stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on https://127.0.0.1" in server.stderr.readline()
        admin = ["--admin", f"https://127.0.0.1:{port}", "--ca", ca]
        queued = dmlab("job", "queue", *admin, "--device", DEVID, str(tmp_path / "job.json"))
        assert "queued" in queued.stdout and "next session" in queued.stdout
        connect = dmlab("handset", "connect", "--store", store, "--server-id", "dms1",
                        "--ca", ca, "--json", "--trace", str(tmp_path / "traces"))
        summary = json.loads(connect.stdout)
        assert summary["outcome"] == "completed"
        assert [c["status"] for c in summary["commands"]][:3] == [200, 200, 200]
        shown = dmlab("job", "show", *admin, "1").stdout
        assert "Get      200 ./DevInfo/Mod = Virtual Handset 1" in shown
        assert dmlab("tree", "get", "--store", store, GREETING).stdout == "over the wire\n"
        transcript = dmlab("trace", "show", str(tmp_path / "traces")).stdout
        assert "Alert 1201" in transcript
        untrusted = dmlab("handset", "connect", "--store", store, "--server-id", "dms1",
                          check=False)
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr.lower()
    finally:
        server.terminate()
        server.wait(10)


# ---------------------------------------------------------------- over sockets, the hard cases

async def one_session(ca: LabCA, job: dict, *, server_secret: str = "dms1-secret",
                      max_msg_size: int = 16384) -> tuple[Tree, DMServer, SessionSummary, str]:
    """One client-initiated session over HTTPS with a job queued; the server's
    max_msg_size is what the handset's Results must fit in."""
    tree = Tree(load_profile("default"))
    handset = Handset(tree, encoding=Encoding.WBXML, ca_file=str(ca.ca_file))
    config = ServerConfig(server_id="dms1", url="https://127.0.0.1:0/dm", listen="127.0.0.1:0",
                          devices=[device("DIGEST", None, server_secret)],
                          max_msg_size=max_msg_size,
                          tls_cert=str(ca.directory / "dms1.pem"),
                          tls_key=str(ca.directory / "dms1.key"))
    server = DMServer(config, Registry(), clock=time.time)
    runner, port = await start_dm(server)
    config.url = f"https://127.0.0.1:{port}/dm"
    tree.replace("./DMAcc/dms1/AppAddr/1/Addr", None, value=config.url)
    queued = server.queue_job(DEVID, parse_job(json.dumps(job)))
    try:
        summary = await handset.connect("dms1")
    finally:
        await handset.stop()
        await runner.cleanup()
    return tree, server, summary, queued.job_id


def test_a_wrong_server_secret_over_sockets_changes_nothing(lab_ca: LabCA) -> None:
    async def main() -> None:
        before = Tree(load_profile("default")).export("./Vendor")
        tree, server, summary, job_id = await one_session(
            lab_ca, {"commands": [{"cmd": "Replace", "uri": GREETING, "data": "forged"}]},
            server_secret="not-dms1-secret")
        assert summary.outcome.value == "auth_failed", summary.reason
        assert tree.export("./Vendor") == before
        assert server.job(job_id).state is not JobState.DONE
    asyncio.run(main())


def test_large_objects_both_ways_over_sockets(lab_ca: LabCA) -> None:
    big = "0123456789abcdef" * 6400  # 100 KB
    async def main() -> None:
        tree, server, summary, job_id = await one_session(
            lab_ca, {"commands": [{"cmd": "Replace", "uri": GREETING, "data": big},
                                  {"cmd": "Get", "uri": GREETING}]}, max_msg_size=4000)
        assert summary.outcome.value == "completed", summary.reason
        job = server.job(job_id)
        assert [c.status for c in job.commands] == [200, 200] and job.commands[1].data == big
        assert tree.get(GREETING).value == big
        # 100 KB in, under the handset's 16 KB MaxMsgSize: chunk by chunk, each a 213.
        assert sum(1 for c in summary.commands if c.status == 213) >= 6
    asyncio.run(main())
