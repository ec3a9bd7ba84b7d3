"""The server's TOML configuration: what it reads, and the one-line errors it gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmclient.auth import AAuthType
from dmclient.notification import UIMode
from dmclient.wire import Encoding
from servers.dm import ConfigError, load_config

GOOD = """
[server]
server_id = "dms1"
listen = "127.0.0.1:8443"
url = "https://127.0.0.1:8443/dm"
tls_cert = "tls/dms1.crt"
tls_key = "tls/dms1.key"
database = "dms1.sqlite"
encoding = "wbxml"
max_msg_size = 8192

[[devices]]
device_id = "IMEI:358240051111110"
client_auth = "DIGEST"
client_secret = "handset-secret"
client_nonce = "Y2xpZW50LW5vbmNlLTE="
server_auth = "hmac"
server_secret = "dms1-secret"
server_nonce = "c2VydmVyLW5vbmNlLTE="
notify_url = "http://127.0.0.1:9000/notify"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dms1.toml"
    path.write_text(text)
    return path


def test_a_full_configuration(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert (config.server_id, config.listen, config.url, config.scheme) == (
        "dms1", "127.0.0.1:8443", "https://127.0.0.1:8443/dm", "https")
    assert config.tls_cert == str(tmp_path / "tls/dms1.crt")
    assert config.database == str(tmp_path / "dms1.sqlite")
    assert (config.encoding, config.max_msg_size, config.max_obj_size) == (
        Encoding.WBXML, 8192, 1024 * 1024)
    device = config.device("IMEI:358240051111110")
    assert device is not None
    assert (device.client_auth, device.server_auth) == (AAuthType.DIGEST, AAuthType.HMAC)
    # Names default to the DevId and the ServerID, as in the lab's handset profile.
    assert (device.client_name, device.server_name) == ("IMEI:358240051111110", "dms1")
    assert (device.encoding, device.ui_mode) == (None, UIMode.BACKGROUND)
    assert config.device("IMEI:1") is None


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[server]\nserver_id = "s"\nurl = "http://h/dm"\n'))
    assert (config.database, config.scheme, config.devices, config.encoding) == (
        ":memory:", "http", [], Encoding.XML)


@pytest.mark.parametrize("change, message", [
    (("", "[oops]\n"), "unknown section 'oops'"),
    (('url = "https://127.0.0.1:8443/dm"\n', ""), "[server]: url is missing"),
    (('max_msg_size = 8192', 'max_msg_size = "big"'), "[server]: max_msg_size must be an integer"),
    (('max_msg_size = 8192', 'max_msg_size = 10'), "max_msg_size must be an integer of at least 256"),
    (('encoding = "wbxml"', 'encoding = "json"'), "server: encoding: 'json' is not xml or wbxml"),
    (('tls_key = "tls/dms1.key"\n', ""), "give both tls_cert and tls_key, or neither"),
    (('client_auth = "DIGEST"', 'client_auth = "X509"'), "client_auth: 'X509' is not one of BASIC|DIGEST|HMAC"),
    (('client_nonce = "Y2xpZW50LW5vbmNlLTE="', 'client_nonce = "not base64!"'), "client_nonce: 'not base64!' is not base64"),
    (('notify_url', 'notify_link'), "devices[0]: unknown key 'notify_link'"),
    (('device_id = "IMEI:358240051111110"\n', ""), "devices[0]: device_id is missing"),
    (("[[devices]]", "[devices]"), "devices must be an array of tables"),
    (("[server]", "[server"), "not valid TOML"),
])
def test_bad_files_give_one_line_errors(tmp_path: Path, change: tuple[str, str],
                                        message: str) -> None:
    old, new = change
    text = GOOD + new if not old else GOOD.replace(old, new)
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).startswith(str(tmp_path))


def test_a_device_listed_twice(tmp_path: Path) -> None:
    text = GOOD + GOOD[GOOD.index("[[devices]]"):]
    with pytest.raises(ConfigError, match="listed twice"):
        load_config(write(tmp_path, text))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "nope.toml")
