"""Verify a bootstrap and install it: all of it, or nothing.

The order matters: the MAC is checked over the raw body before a byte of it is parsed,
so an unauthenticated body never reaches a decoder; then the profile's changes run in
one tree transaction, which a refusal at any point rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import chain, count

from dmclient.bootstrap import cp_profile
from dmclient.bootstrap.account import DMACC_ROOT, account_nodes
from dmclient.bootstrap.dm_profile import apply_message
from dmclient.bootstrap.errors import BootstrapError
from dmclient.bootstrap.security import CP_WBXML, CP_XML, DM_WBXML, ContentType, Secrets, verify
from dmclient.tree import CommitError, Tree, UriError, tnds
from dmclient.tree.accounts import accounts
from dmclient.tree.uri import child_path, to_uri, validate_name
from dmclient.wire import DecodeError, Encoding, Message, decode, detect

DEVID = "./DevInfo/DevId"


class Profile(StrEnum):
    DM = "dm"
    CP = "cp"


_PROFILES = {DM_WBXML: Profile.DM, CP_WBXML: Profile.CP, CP_XML: Profile.CP}


@dataclass(frozen=True, slots=True)
class Installed:
    profile: Profile
    server_ids: tuple[str, ...]  # the accounts the bootstrap added


def device_id(tree: Tree) -> str:
    """The handset's DevId, as a bootstrap must name it."""
    node = tree.node(DEVID)
    value = node.value if node is not None else None
    if not value:
        raise BootstrapError(f"this handset has no {DEVID}")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def install(tree: Tree, body: bytes, content_type: str, secrets: Secrets) -> Installed:
    """Verify `body` against its content type's SEC and MAC, then apply it."""
    ctype = ContentType.parse(content_type)
    profile = _PROFILES.get(ctype.media_type)
    if profile is None:
        raise BootstrapError(f"unsupported bootstrap media type {ctype.media_type!r} "
                             f"(expected {DM_WBXML}, {CP_WBXML} or {CP_XML})")
    verify(body, ctype, secrets)
    dev_id = device_id(tree)
    existing = {a.path: a.server_id for a in accounts(tree)}
    txn = tree.transaction()
    try:
        if profile is Profile.DM:
            apply_message(tree, _decode_dm(body), dev_id)
        else:
            _apply_cp(tree, body)
        added = tuple(a.server_id for a in accounts(tree) if a.path not in existing)
        _check_unique(added, set(existing.values()))
    except BaseException:
        txn.rollback()
        raise
    try:
        txn.commit()
    except CommitError as exc:
        raise BootstrapError(f"the bootstrap could not be stored: {exc}") from None
    return Installed(profile, added)


def _decode_dm(body: bytes) -> Message:
    try:
        if detect(body) is not Encoding.WBXML:
            raise BootstrapError("a DM-profile bootstrap must be WBXML")
        return decode(body)
    except DecodeError as exc:
        raise BootstrapError(f"malformed bootstrap: {exc}") from None


def _apply_cp(tree: Tree, body: bytes) -> None:
    chosen: set[str] = set()

    def name_for(server_id: str) -> str:
        """<X>: the ServerID when it is a usable, free node name, else acc1, acc2…"""
        candidates = chain([server_id] if _usable(tree, server_id) else [],
                           (f"acc{n}" for n in count(1)))
        name = next(c for c in candidates
                    if c not in chosen and tree.node(child_path(DMACC_ROOT, c)) is None)
        chosen.add(name)
        return name

    for spec in cp_profile.accounts_from(cp_profile.read_document(body), name_for):
        entries = [tnds.TndsEntry(path, node, frozenset()) for path, node in account_nodes(spec)]
        result = tree.apply_tnds(entries)
        if not result.ok:
            raise BootstrapError(f"CP w7 {spec.server_id}: cannot add {spec.path}: "
                                 f"{result.detail or result.status.meaning}")


def _usable(tree: Tree, name: str) -> bool:
    """A name the handset accepts as one segment under ./DMAcc, within its URI limits."""
    try:
        validate_name(name)
        tree.parse(to_uri(child_path(DMACC_ROOT, name)))
    except UriError:
        return False
    return True


def _check_unique(added: tuple[str, ...], existing: set[str]) -> None:
    seen = set(existing)
    for server_id in added:
        if server_id in seen:
            raise BootstrapError(f"the handset already has an account for ServerID "
                                 f"{server_id!r}")
        seen.add(server_id)
