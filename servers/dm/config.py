"""The DM server's configuration: who it is, where it listens, and the devices it manages.

    [server]
    server_id = "dms1"
    listen = "127.0.0.1:8443"
    url = "https://127.0.0.1:8443/dm"        # what devices post to (their DMAcc Addr)
    tls_cert = "dms1.crt"                    # both or neither; http without them
    tls_key = "dms1.key"
    database = "dms1.sqlite"                 # default ":memory:"
    encoding = "xml"                         # for sessions the server starts
    max_msg_size = 16384
    max_obj_size = 1048576
    jobs_per_session = 0                     # queued jobs one session runs; 0: all

    [[devices]]
    device_id = "IMEI:358240051111110"       # DevId, the header Source of its messages
    client_auth = "DIGEST"                   # what the server demands of the handset
    client_name = "IMEI:358240051111110"
    client_secret = "handset-secret"
    client_nonce = "Y2xpZW50LW5vbmNlLTE="    # b64; the handset's CLCRED AAuthData
    server_auth = "DIGEST"                   # how the server proves itself
    server_name = "dms1"
    server_secret = "dms1-secret"
    server_nonce = "c2VydmVyLW5vbmNlLTE="    # b64; the handset's SRVCRED AAuthData
    notify_url = "http://127.0.0.1:9000/notify"  # where package 0 goes (optional)

    [delegation]                             # optional: this server delegates (needs tls_*)
    listen = "127.0.0.1:9443"                # the delegation link (mutual TLS)
    ca = "ca.pem"                            # the lab CA; the link uses tls_cert/tls_key
    database = "dms1-delegations.sqlite"     # default ":memory:"
    step_timeout = 30.0
    bootstrap_url = "https://127.0.0.1:8444/bootstrap"  # as DMS-2 (methods 3-4): all
    bootstrap_admin = "https://127.0.0.1:8444"           # three, or none
    bootstrap_pin = "1234"

    [delegation.peers]                       # ServerID = its delegation link URL
    dms2 = "https://127.0.0.1:9444/delegation"

The nonces given here are where a device starts; once the registry has a device, the
nonces it has stored win, because sessions move them on. Relative file names are taken
from the configuration file's folder.
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, TypeVar

from dmclient.auth import AAuthType, AuthType
from dmclient.auth.nonce import NonceError, decode_nonce
from dmclient.notification import UIMode
from dmclient.wire import Encoding

MEMORY = ":memory:"
SYNCML_AUTH = (AAuthType.BASIC, AAuthType.DIGEST, AAuthType.HMAC)
"""The account types that live in SyncML (Cred or x-syncml-hmac), which the engine runs."""


T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line naming the field."""


def _auth(value: Any, name: str) -> AAuthType:
    try:
        auth = AAuthType(str(value).upper())
    except ValueError:
        auth = None
    if auth not in SYNCML_AUTH:
        allowed = "|".join(a.value for a in SYNCML_AUTH)
        raise ConfigError(f"{name}: {value!r} is not one of {allowed}")
    return auth


def _encoding(value: Any, name: str) -> Encoding:
    if isinstance(value, Encoding):
        return value
    try:
        return Encoding(str(value).lower())
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not xml or wbxml") from None


def _nonce(value: str, name: str) -> None:
    try:
        decode_nonce(value)
    except NonceError:
        raise ConfigError(f"{name}: {value[:40]!r} is not base64") from None


@dataclass(kw_only=True)
class DeviceConfig:
    """One managed device and the credentials both ways (values as in its DMAcc)."""

    device_id: str
    client_auth: AAuthType = AAuthType.DIGEST
    client_name: str = ""  # default: device_id
    client_secret: str = ""
    client_nonce: str = ""
    server_auth: AAuthType = AAuthType.DIGEST
    server_name: str = ""  # default: the server's ServerID (filled in by ServerConfig)
    server_secret: str = ""
    server_nonce: str = ""
    notify_url: str | None = None
    encoding: Encoding | None = None
    ui_mode: UIMode = UIMode.BACKGROUND  # what package 0 asks of the user

    def __post_init__(self) -> None:
        where = f"device {self.device_id!r}"
        if not self.device_id:
            raise ConfigError("device: device_id is empty")
        self.client_auth = _auth(self.client_auth, f"{where}: client_auth")
        self.server_auth = _auth(self.server_auth, f"{where}: server_auth")
        self.client_name = self.client_name or self.device_id
        _nonce(self.client_nonce, f"{where}: client_nonce")
        _nonce(self.server_nonce, f"{where}: server_nonce")
        if self.encoding is not None:
            self.encoding = _encoding(self.encoding, f"{where}: encoding")
        try:
            self.ui_mode = UIMode[self.ui_mode.upper()] if isinstance(self.ui_mode, str) \
                else UIMode(self.ui_mode)
        except (KeyError, ValueError):
            raise ConfigError(f"{where}: ui_mode {self.ui_mode!r} is not "
                              "unspecified|background|informative|user_interaction") from None

    @property
    def client_auth_type(self) -> AuthType:
        return self.client_auth.auth_type  # type: ignore[return-value]

    @property
    def server_auth_type(self) -> AuthType:
        return self.server_auth.auth_type  # type: ignore[return-value]


def _address(value: str, name: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{name}: {value!r} is not host:port")


@dataclass(kw_only=True)
class DelegationConfig:
    """The server's part in delegations: its link, its peers' links and, as DMS-2 of
    methods 3-4, its bootstrap server."""

    listen: str
    ca: str
    database: str = MEMORY
    step_timeout: float = 30.0
    peers: dict[str, str] = field(default_factory=dict)  # ServerID -> link URL
    bootstrap_url: str | None = None
    bootstrap_admin: str | None = None
    bootstrap_pin: str | None = None

    def __post_init__(self) -> None:
        _address(self.listen, "delegation: listen")
        if self.step_timeout <= 0:
            raise ConfigError("delegation: step_timeout must be positive")
        if not isinstance(self.peers, dict):
            raise ConfigError("delegation: peers must be a table ([delegation.peers])")
        for peer, url in self.peers.items():
            if not isinstance(url, str) or not url.startswith("https://"):
                raise ConfigError(f"delegation.peers: {peer} must be an https:// URL")
        given = [self.bootstrap_url, self.bootstrap_admin, self.bootstrap_pin]
        if any(given) and not all(given):
            raise ConfigError("delegation: give bootstrap_url, bootstrap_admin and "
                              "bootstrap_pin together, or none")


@dataclass(kw_only=True)
class ServerConfig:
    server_id: str
    url: str
    listen: str = "127.0.0.1:8443"
    tls_cert: str | None = None
    tls_key: str | None = None
    database: str = MEMORY
    encoding: Encoding = Encoding.XML
    max_msg_size: int = 16384
    max_obj_size: int = 1024 * 1024
    session_timeout: float = 300.0  # seconds of silence before expire_sessions ends one
    jobs_per_session: int = 0  # how many queued jobs one session runs; 0 means all of them
    devices: list[DeviceConfig] = field(default_factory=list)
    delegation: DelegationConfig | None = None

    def __post_init__(self) -> None:
        if not self.server_id:
            raise ConfigError("server: server_id is empty")
        if not self.url:
            raise ConfigError("server: url is empty")
        self.encoding = _encoding(self.encoding, "server: encoding")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("server: give both tls_cert and tls_key, or neither")
        if self.delegation is not None and self.tls_cert is None:
            raise ConfigError("delegation: the link needs the server's tls_cert and tls_key")
        for name in ("max_msg_size", "max_obj_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 256:
                raise ConfigError(f"server: {name} must be an integer of at least 256")
        seen: set[str] = set()
        for device in self.devices:
            if device.device_id in seen:
                raise ConfigError(f"device {device.device_id!r} is listed twice")
            seen.add(device.device_id)
            device.server_name = device.server_name or self.server_id
        self._by_id = {d.device_id: d for d in self.devices}

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def device(self, device_id: str) -> DeviceConfig | None:
        return self._by_id.get(device_id)

    def drop_device(self, device_id: str) -> None:
        self.devices = [d for d in self.devices if d.device_id != device_id]
        self._by_id.pop(device_id, None)

    def put_device(self, device: DeviceConfig) -> None:
        """Add a device, or replace the one with its DevId."""
        device.server_name = device.server_name or self.server_id
        self.devices = [d for d in self.devices if d.device_id != device.device_id] + [device]
        self._by_id[device.device_id] = device


_TOML_TYPES = {"int": ((int,), "an integer"), "float": ((int, float), "a number")}
_NESTED = ("devices", "delegation", "peers")  # fields that are tables, not keys


def _table(value: Any, name: str, allowed: type,
           nested: tuple[str, ...] = ()) -> dict[str, Any]:
    """The table's keys, checked against the dataclass: none unknown, none missing, and
    each of the TOML type its field wants (strings for text and enum fields); the keys
    in `nested` hold tables, which the caller checks."""
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a table")
    wanted = {f.name: f for f in fields(allowed) if f.init and f.name not in _NESTED}
    for key, item in value.items():
        if key in nested:
            if not isinstance(item, dict):
                raise ConfigError(f"{name}: {key} must be a table")
            continue
        if key not in wanted:
            raise ConfigError(f"{name}: unknown key {key!r}")
        types, kind = _TOML_TYPES.get(str(wanted[key].type), ((str,), "a string"))
        if not isinstance(item, types) or isinstance(item, bool):
            raise ConfigError(f"{name}: {key} must be {kind}")
    for key, spec in wanted.items():
        if key not in value and spec.default is MISSING and spec.default_factory is MISSING:
            raise ConfigError(f"{name}: {key} is missing")
    return value


def _relative(value: str, base: Path) -> str:
    return value if value == MEMORY else str(base / value)


def _build(document: dict[str, Any], base: Path) -> ServerConfig:
    unknown = sorted(set(document) - {"server", "devices", "delegation"})
    if unknown:
        raise ConfigError(f"unknown section {unknown[0]!r}")
    server = _table(document.get("server"), "[server]", ServerConfig)
    devices = document.get("devices", [])
    if not isinstance(devices, list):
        raise ConfigError("devices must be an array of tables ([[devices]])")
    files = {k: _relative(server[k], base) for k in ("tls_cert", "tls_key", "database")
             if k in server}
    return ServerConfig(
        **{**server, **files},
        devices=[DeviceConfig(**_table(d, f"devices[{n}]", DeviceConfig))
                 for n, d in enumerate(devices)],
        delegation=_delegation(document.get("delegation"), base),
    )


def _delegation(document: Any, base: Path) -> DelegationConfig | None:
    if document is None:
        return None
    table = _table(document, "[delegation]", DelegationConfig, nested=("peers",))
    files = {k: _relative(table[k], base) for k in ("ca", "database") if k in table}
    return DelegationConfig(**{**table, **files})


def load_config(path: str | Path) -> ServerConfig:
    """Read a TOML configuration; ConfigError with a one-line reason if it is unusable."""
    return read_toml(path, _build)


def read_toml(path: str | Path, build: Callable[[dict[str, Any], Path], T]) -> T:
    """A TOML file made into a configuration by `build` (given the document and the
    file's folder, for relative paths); every problem is one ConfigError naming the file."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        return build(document, path.parent)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
