"""Handset profiles: the TNDS documents in `trees/` that new handsets start from.

A profile is loaded once per process and shared by every handset made from it; a handset
holds only what differs. Profiles are immutable once loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dmclient.tree import acl as aclmod
from dmclient.tree import tnds
from dmclient.tree.formats import NODE
from dmclient.tree.node import Node
from dmclient.tree.tree import Tree
from dmclient.tree.uri import ROOT, parent_path

#: Where the shipped profiles live: `trees/` at the top of the checkout, or $DMLAB_TREES.
TREES_DIR = Path(os.environ.get("DMLAB_TREES", Path(__file__).resolve().parents[2] / "trees"))
DEFAULT_PROFILE = "default"


class ProfileError(ValueError):
    """A profile that cannot be loaded (missing file, bad TNDS, broken structure)."""


@dataclass(frozen=True, eq=False)
class Profile:
    name: str
    nodes: Mapping[str, Node]
    source: str = ""
    digest: str = field(default="")

    @classmethod
    def from_tnds(cls, data: bytes, name: str, source: str = "") -> "Profile":
        try:
            entries = tnds.parse(data)
        except tnds.TndsError as exc:
            raise ProfileError(f"{name}: {exc}") from None
        nodes: dict[str, Node] = {}
        children: dict[str, list[str]] = {}
        for entry in entries:
            parent = parent_path(entry.path)
            if parent is not None:
                if parent not in nodes and parent == ROOT:
                    nodes[ROOT] = Node(format=NODE, acl=aclmod.ROOT_DEFAULT, permanent=True)
                    children[ROOT] = []
                if parent not in nodes:
                    raise ProfileError(f"{name}: {entry.path} comes before its parent {parent}")
                if not nodes[parent].interior:
                    raise ProfileError(f"{name}: {entry.path} is under the leaf {parent}")
                children[parent].append(entry.path.rpartition("/")[2])
            nodes[entry.path] = entry.node
            children[entry.path] = []
        if ROOT not in nodes:
            nodes[ROOT] = Node(format=NODE, acl=aclmod.ROOT_DEFAULT, permanent=True)
            children[ROOT] = []
        root = nodes[ROOT]
        if not root.interior:
            raise ProfileError(f"{name}: the root must be an interior node")
        for path, node in nodes.items():
            try:
                aclmod.parse(node.acl)
            except aclmod.AclError as exc:
                raise ProfileError(f"{name}: bad ACL at {path}: {exc}") from None
        if root.acl and "*" not in aclmod.parse(root.acl).ids_for(aclmod.AclCommand.ADD):
            raise ProfileError(f"{name}: the root ACL must keep Add=*")
        if not root.acl:
            nodes[ROOT] = root.evolve(acl=aclmod.ROOT_DEFAULT)
        final = {p: n.evolve(children=tuple(children[p])) if children[p] else n
                 for p, n in nodes.items()}
        profile = cls(name, final, source)
        object.__setattr__(profile, "digest", tnds.digest(Tree(profile).walk()))
        return profile


_CACHE: dict[tuple[str, float], Profile] = {}


def load(name_or_path: str | os.PathLike[str] = DEFAULT_PROFILE) -> Profile:
    """A profile by name (a file in trees/) or by path; loaded once per process."""
    path = resolve(name_or_path)
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime)
        if key not in _CACHE:
            _CACHE[key] = Profile.from_tnds(path.read_bytes(), path.stem, str(path))
        return _CACHE[key]
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}") from None


def resolve(name_or_path: str | os.PathLike[str]) -> Path:
    text = os.fspath(name_or_path)
    candidate = Path(text)
    if candidate.suffix or os.sep in text:
        return candidate.resolve()
    return (TREES_DIR / f"{text}.xml").resolve()
