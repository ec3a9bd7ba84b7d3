"""Bootstrap: verify and install a DM or CP bootstrap, build one, and fetch one.

    installed = install(tree, body, content_type, Secrets(pin="1234"))   # pure, no I/O
    body = build_message(spec, dev_id="IMEI:…", source=url)               # the server's side
    result = await fetch_bootstrap(tree, url, http=session, secrets=…)    # HTTPS, then install

A bootstrap is applied with device authority, all or nothing, and gets no reply; one
that does not verify, does not parse, or is not for this handset raises BootstrapError
and changes nothing. The handset's progress shows in ./Vendor/DMLab/Bootstrap (mo.py).
"""

from dmclient.bootstrap.account import AccountSpec, AppAuth, account_nodes
from dmclient.bootstrap.cp_profile import build_document as build_cp_document
from dmclient.bootstrap.dm_profile import build_message
from dmclient.bootstrap.errors import BootstrapError
from dmclient.bootstrap.fetcher import (FetchQueue, FetchRequest, FetchResult, fetch_bootstrap,
                                        fetch_report, should_connect_after)
from dmclient.bootstrap.install import Installed, Profile, device_id, install
from dmclient.bootstrap.mo import BOOTSTRAP, FETCH, STATE, URL, State, ensure_bootstrap_mo
from dmclient.bootstrap.security import (CP_WBXML, CP_XML, DM_WBXML, ContentType, SecType,
                                         Secrets, Signature, netwpin_key, sign, verify)

__all__ = [
    "BOOTSTRAP", "CP_WBXML", "CP_XML", "DM_WBXML", "FETCH", "STATE", "URL", "AccountSpec",
    "AppAuth", "BootstrapError", "ContentType", "FetchQueue", "FetchRequest", "FetchResult",
    "Installed", "Profile", "SecType", "Secrets", "Signature", "State", "account_nodes",
    "build_cp_document", "build_message", "device_id", "ensure_bootstrap_mo",
    "fetch_bootstrap", "fetch_report", "install", "netwpin_key", "should_connect_after",
    "sign", "verify",
]
