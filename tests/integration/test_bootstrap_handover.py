"""Bootstrap end to end over real HTTPS: a DM server registers a bootstrap for the
handset, the handset fetches and installs it, and the new server sees it arrive."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from dmclient.bootstrap import Secrets
from dmclient.handset import Handset
from dmclient.tree import Tree, load_profile
from dmclient.tree.accounts import find_account
from servers.bootstrap import BootstrapConfig, start_bootstrap
from servers.dm import DeviceConfig, DMServer, JobState, Registry, ServerConfig
from servers.http import start_dm
from servers.pki import LabCA, client_context

DEVID = "IMEI:358240051111110"


def registration(dms2_url: str, suppress: bool) -> dict:
    return {"dev_id": DEVID, "sec": "USERPIN", "pin": "1234", "once": True, "account": {
        "server_id": "dms2", "addr": dms2_url, "name": "DMLab delegated server",
        "suppress_session": suppress, "auth_pref": "DIGEST", "app_auth": [
            {"level": "CLCRED", "type": "DIGEST", "name": DEVID, "secret": "handset-secret-2",
             "nonce": "Y2xpZW50LW5vbmNlLTI="},
            {"level": "SRVCRED", "type": "DIGEST", "name": "dms2", "secret": "dms2-secret",
             "nonce": "c2VydmVyLW5vbmNlLTI="}]}}


async def handover(tmp_path: Path, suppress: bool) -> None:
    ca = LabCA.create(tmp_path / "pki")
    dms2_cert, boot_cert = ca.issue("dms2"), ca.issue("bootstrap")
    tree = Tree(load_profile("default"))
    handset = Handset(tree, ca_file=str(ca.ca_file), bootstrap_secrets=Secrets(pin="1234"))
    listener = await handset.listen()
    device = DeviceConfig(device_id=DEVID, client_secret="handset-secret-2",
                          client_nonce="Y2xpZW50LW5vbmNlLTI=", server_secret="dms2-secret",
                          server_nonce="c2VydmVyLW5vbmNlLTI=",
                          notify_url=f"http://127.0.0.1:{listener}/notification")
    config = ServerConfig(server_id="dms2", url="https://127.0.0.1:0/dm", listen="127.0.0.1:0",
                          tls_cert=str(dms2_cert.cert), tls_key=str(dms2_cert.key),
                          devices=[device])
    dms2 = DMServer(config, Registry(), clock=time.time)
    dm_runner, dm_port = await start_dm(dms2)
    config.url = f"https://127.0.0.1:{dm_port}/dm"
    boot_runner, boot_port = await start_bootstrap(BootstrapConfig(
        url="https://127.0.0.1:0/bootstrap", listen="127.0.0.1:0", tls_cert=str(boot_cert.cert),
        tls_key=str(boot_cert.key)))
    boot_url = f"https://127.0.0.1:{boot_port}/bootstrap"
    tls = client_context(ca.ca_file)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"https://127.0.0.1:{boot_port}/admin/bootstraps", ssl=tls,
                                 json=registration(config.url, suppress)) as answer:
                assert answer.status == 201, await answer.text()
        result = await handset.bootstrap(boot_url)
        assert result.installed, result.reason
        account = find_account(tree, "dms2")
        assert account is not None and account.suppress_session is suppress
        assert tree.get("./Vendor/DMLab/Bootstrap/State").value == "installed"
        if not suppress:
            # The handset greets its new server at once (Alert 1201), and dms2 sees it.
            sessions = dms2.sessions(DEVID)
            assert [(s.initiator.value, s.outcome.value) for s in sessions] == [
                ("client", "completed")]
            return
        assert dms2.sessions(DEVID) == []
        with pytest.raises(Exception, match="suppressed"):
            await handset.connect("dms2")
        # Only a package 0 opens a session to a suppressed server.
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{config.url.rsplit('/', 1)[0]}/admin/jobs", ssl=tls,
                                 json={"device": DEVID, "job": {"commands": [
                                     {"cmd": "Get", "uri": "./DevInfo/DevId"}]}}) as answer:
                queued = await answer.json()
        assert queued["notified"], queued
        summary = await handset.notifications[-1].session
        assert summary.outcome.value == "completed" and summary.initiator == "server"
        job = dms2.job(queued["job_id"])
        assert job.state is JobState.DONE and job.commands[0].data == DEVID
    finally:
        await handset.stop()
        await dm_runner.cleanup()
        await boot_runner.cleanup()


@pytest.mark.parametrize("suppress", [False, True], ids=["connects", "suppressed"])
def test_bootstrap_handover(tmp_path: Path, suppress: bool) -> None:
    asyncio.run(handover(tmp_path, suppress))


