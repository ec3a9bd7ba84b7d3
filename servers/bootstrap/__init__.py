"""The bootstrap server: holds signed bootstraps per device and serves each to its device.

The core (BootstrapServer, sans-I/O, state in SQLite) decides; servers.bootstrap.http is
the HTTPS edge: the device endpoint and a loopback-only admin API.
"""

from servers.bootstrap.config import BootstrapConfig, load_bootstrap_config
from servers.bootstrap.core import (BootstrapServer, Event, Held, Outcome, Refused,
                                    Registration, RegistrationError, Served, parse_registration)
from servers.bootstrap.http import SERVER_KEY, bootstrap_app, start_bootstrap
from servers.bootstrap.store import BootstrapRecord, BootstrapState, BootstrapStore, LogRecord

__all__ = [
    "SERVER_KEY", "BootstrapConfig", "BootstrapRecord", "BootstrapServer", "BootstrapState",
    "BootstrapStore", "Event", "Held", "LogRecord", "Outcome", "Refused", "Registration",
    "RegistrationError", "Served", "bootstrap_app", "load_bootstrap_config",
    "parse_registration", "start_bootstrap",
]
