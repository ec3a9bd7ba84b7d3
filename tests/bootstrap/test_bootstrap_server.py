"""The bootstrap server's core on real SQLite, with an injected clock; its configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from bootstrap_support import (DEV_ID, OTHER_DEV_ID, PIN, SOURCE, Clock, dms2_account,
                               handset_tree, registration, registration_json)

from dmclient.bootstrap import Profile, SecType, Secrets, install
from dmclient.tree.accounts import find_account
from servers.bootstrap import (BootstrapServer, BootstrapState, BootstrapStore, Refused,
                               RegistrationError, Served, load_bootstrap_config,
                               parse_registration)
from servers.dm import ConfigError


def make_server(clock: Clock, path: str | Path = ":memory:") -> BootstrapServer:
    return BootstrapServer(BootstrapStore(path), url=SOURCE, clock=clock)


def test_served_once_then_gone() -> None:
    clock = Clock()
    server = make_server(clock)
    server.register(registration(secrets=Secrets(pin=PIN)), peer="127.0.0.1")
    first = server.request(DEV_ID, peer="10.0.0.7")
    assert isinstance(first, Served)
    tree = handset_tree()
    assert install(tree, first.body, first.content_type, Secrets(pin=PIN)).server_ids == ("dms2",)
    clock.now += 5
    second = server.request(DEV_ID, peer="10.0.0.7")
    assert second == Refused(410, f"the bootstrap for {DEV_ID} was served at "
                                  "2023-11-14T22:13:20Z and is served once")
    assert [(r.event, r.outcome, r.peer) for r in server.log()] == [
        ("register", "registered", "127.0.0.1"), ("request", "served", "10.0.0.7"),
        ("request", "already_served", "10.0.0.7")]
    assert server.log()[2].at == clock.now


def test_a_withdrawn_bootstrap_is_no_longer_held() -> None:
    server = make_server(Clock())
    server.register(registration(secrets=Secrets(pin=PIN)), peer="127.0.0.1")
    assert len(server.withdraw(DEV_ID, peer="127.0.0.1")) == 1
    assert server.request(DEV_ID, peer="10.0.0.7") == Refused(
        404, f"no bootstrap is held for {DEV_ID}")
    assert [b.state for b in server.bootstraps(DEV_ID)] == [BootstrapState.WITHDRAWN]
    assert server.withdraw(DEV_ID, peer="127.0.0.1") == []  # nothing left to take back
    assert [(r.event, r.outcome) for r in server.log()][1] == ("withdraw", "withdrawn")


def test_not_once_is_served_until_it_expires() -> None:
    clock = Clock()
    server = make_server(clock)
    server.register(registration(secrets=Secrets(pin=PIN), once=False, expires_in=60))
    clock.now += 30
    assert isinstance(server.request(DEV_ID, ""), Served)
    assert isinstance(server.request(DEV_ID, ""), Served)
    clock.now += 30
    refused = server.request(DEV_ID, "")
    assert isinstance(refused, Refused) and refused.status == 410
    assert "expired at 2023-11-14T22:14:20Z" in refused.reason
    assert server.bootstraps()[0].served_count == 2


def test_served_only_to_the_device_it_is_for() -> None:
    server = make_server(Clock())
    server.register(registration(dev_id=OTHER_DEV_ID, secrets=Secrets(pin=PIN)))
    assert server.request(DEV_ID, "") == Refused(404, f"no bootstrap is held for {DEV_ID}")
    assert server.request("", "") == Refused(400, "the request names no devid")
    assert server.bootstraps()[0].state is BootstrapState.PENDING


def test_a_new_registration_supersedes_the_held_one() -> None:
    server = make_server(Clock())
    first = server.register(registration(secrets=Secrets(pin=PIN)))
    second = server.register(registration(secrets=Secrets(pin="5678")))
    assert second.superseded == (first.record.id,)
    served = server.request(DEV_ID, "")
    assert isinstance(served, Served)
    install(handset_tree(), served.body, served.content_type, Secrets(pin="5678"))
    assert [b.state for b in server.bootstraps()] == [BootstrapState.SUPERSEDED,
                                                      BootstrapState.SERVED]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "bootstrap.sqlite"
    clock = Clock()
    before = make_server(clock, database)
    before.register(registration(secrets=Secrets(pin=PIN), once=False))
    assert isinstance(before.request(DEV_ID, "a"), Served)
    before.store.close()
    after = make_server(clock, database)
    assert isinstance(after.request(DEV_ID, "b"), Served)
    assert [r.outcome for r in after.log()] == ["registered", "served", "served"]
    after.store.close()


def test_userpinmac_registration_tells_the_code_for_the_user() -> None:
    server = make_server(Clock())
    held = server.register(registration(sec=SecType.USERPINMAC, secrets=Secrets(pin=PIN)))
    assert held.user_code is not None and held.user_code.startswith(PIN)
    served = server.request(DEV_ID, "")
    tree = handset_tree()
    install(tree, served.body, served.content_type, Secrets(pin=held.user_code))
    assert find_account(tree, "dms2") is not None


def test_cp_profile_on_request() -> None:
    server = make_server(Clock())
    server.register(registration(profile=Profile.CP, sec=SecType.NETWPIN,
                                 secrets=Secrets(imsi="234150123456789"),
                                 account=dms2_account(auth_pref="")))
    served = server.request(DEV_ID, "")
    assert served.content_type.startswith("application/vnd.wap.connectivity-wbxml; SEC=0; MAC=")
    tree = handset_tree()
    assert install(tree, served.body, served.content_type,
                   Secrets(imsi="234150123456789")).profile is Profile.CP


def test_registration_json() -> None:
    parsed = parse_registration(registration_json(expires_in=600, once=False))
    assert parsed.account.app_auth[0].nonce == b"client-nonce-2"
    assert (parsed.sec, parsed.secrets.pin, parsed.expires_in, parsed.once) == \
        (SecType.USERPIN, PIN, 600, False)


@pytest.mark.parametrize("changes, reason", [
    ({"dev_id": ""}, "dev_id is missing"),
    ({"sec": "SECRET"}, "unknown SEC"),
    ({"once": "yes"}, "once must be bool"),
    ({"expires_in": 0}, "expires_in must be a positive"),
    ({"profile": "sms"}, "'sms' is not a valid Profile"),
    ({"account": {"server_id": "dms2"}}, "addr is empty"),
    ({"account": []}, "account must be a JSON object"),
    ({"account": {"server_id": "x", "addr": "https://x", "app_auth": [{"level": "CLCRED",
                  "type": "DIGEST", "nonce": "%%"}]}}, r"app_auth\[0\].nonce is not base64"),
    ({"account": {"server_id": "x", "addr": "https://x", "app_auth": [{"level": "ME",
                  "type": "DIGEST"}]}}, "AAuthLevel 'ME'"),
])
def test_bad_registrations_say_why(changes: dict, reason: str) -> None:
    with pytest.raises(RegistrationError, match=reason):
        parse_registration(registration_json(**changes))


def test_a_registration_that_cannot_be_signed_is_refused() -> None:
    server = make_server(Clock())
    with pytest.raises(RegistrationError, match="SEC=NETWPIN needs the IMSI"):
        server.register(registration(sec=SecType.NETWPIN))
    assert server.bootstraps() == [] and server.log() == []


def test_config(tmp_path: Path) -> None:
    path = tmp_path / "bootstrap.toml"
    path.write_text('[server]\nurl = "https://127.0.0.1:8444/bootstrap"\n'
                    'tls_cert = "b.crt"\ntls_key = "/keys/b.key"\ndatabase = "b.sqlite"\n')
    config = load_bootstrap_config(path)
    assert (config.tls_cert, config.tls_key, config.database) == \
        (str(tmp_path / "b.crt"), "/keys/b.key", str(tmp_path / "b.sqlite"))
    assert config.path == "/bootstrap" and config.address == ("127.0.0.1", 8444)


@pytest.mark.parametrize("text, reason", [
    ('[server]\nurl = "http://x/b"\ntls_cert = "c"\ntls_key = "k"\n', "is not an https:// URL"),
    ('[server]\nurl = "https://x/b"\ntls_cert = "c"\n', "tls_key is missing"),
    ('[server]\nurl = "https://x/b"\ntls_cert = "c"\ntls_key = "k"\nport = 1\n',
     "unknown key 'port'"),
    ('[server]\nurl = "https://x/b"\ntls_cert = "c"\ntls_key = "k"\nlisten = "8444"\n',
     "is not host:port"),
    ('[devices]\n', "unknown section 'devices'"),
    ('[server\n', "not valid TOML"),
])
def test_config_errors_are_one_line(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bootstrap.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason) as caught:
        load_bootstrap_config(path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(path))
