"""The bootstrap server's configuration:

    [server]
    url = "https://127.0.0.1:8444/bootstrap"   # what handsets fetch (the Bootstrap/URL leaf)
    listen = "127.0.0.1:8444"
    tls_cert = "bootstrap.crt"                 # required: bootstraps go over HTTPS only
    tls_key = "bootstrap.key"
    database = "bootstrap.sqlite"              # default ":memory:"

Relative file names are taken from the configuration file's folder. Errors are
servers.dm's ConfigError, so the CLI reports both servers' configurations alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from servers.bootstrap.store import MEMORY
from servers.dm.config import ConfigError, read_toml


@dataclass(frozen=True, kw_only=True)
class BootstrapConfig:
    url: str
    tls_cert: str
    tls_key: str
    listen: str = "127.0.0.1:8444"
    database: str = MEMORY

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"server: url {self.url!r} is not an https:// URL")
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(f"server: listen {self.listen!r} is not host:port")

    @property
    def path(self) -> str:
        """Where the device endpoint is served: the path of `url`."""
        return urlsplit(self.url).path or "/"

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)


def load_bootstrap_config(path: str | Path) -> BootstrapConfig:
    """Read a TOML configuration; ConfigError with a one-line reason if it is unusable."""
    return read_toml(path, _build)


def _build(document: dict[str, Any], base: Path) -> BootstrapConfig:
    unknown = sorted(set(document) - {"server"})
    if unknown:
        raise ConfigError(f"unknown section {unknown[0]!r}")
    table = document.get("server")
    if not isinstance(table, dict):
        raise ConfigError("[server] is missing")
    known = {f.name: f for f in fields(BootstrapConfig)}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"[server]: unknown key {key!r}")
        if not isinstance(value, str):
            raise ConfigError(f"[server]: {key} must be a string")
    for key in ("url", "tls_cert", "tls_key"):
        if key not in table:
            raise ConfigError(f"[server]: {key} is missing")
    files = {k: str(base / table[k]) for k in ("tls_cert", "tls_key", "database")
             if k in table and table[k] != MEMORY}
    return BootstrapConfig(**{**table, **files})
