"""SQLite persistence for handsets' trees.

One file can hold many handsets. Each keeps a row per node where it differs from its
profile (a changed or added record, or a tombstone for a deleted profile node), and each
committed batch is one SQLite transaction: a handset killed mid-batch reopens to the state
before the batch, never to half of it.
"""

from __future__ import annotations

import os
import sqlite3
from functools import partial

from dmclient.tree import profile as profiles
from dmclient.tree.node import Node
from dmclient.tree.tree import ABSENT, Changes, Tree

SCHEMA = """
CREATE TABLE IF NOT EXISTS handset (
    id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    profile_digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS node (
    handset TEXT NOT NULL REFERENCES handset(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    format TEXT, value, type TEXT, acl TEXT, title TEXT, tstamp TEXT, verno INTEGER,
    permanent INTEGER, access TEXT, children TEXT,
    PRIMARY KEY (handset, path)
) WITHOUT ROWID;
"""
_COLUMNS = "format, value, type, acl, title, tstamp, verno, permanent, access, children"


class StoreError(RuntimeError):
    """A store file that cannot be opened or does not hold what was asked for."""


class TreeStore:
    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = os.fspath(path)
        if not create and not os.path.exists(self.path):
            raise StoreError(f"no store at {self.path}")
        # Opening an existing file must not change it until it proves to be a store.
        target = self.path if create else f"file:{self.path}?mode=rw"
        try:
            self._db = sqlite3.connect(target, uri=not create, isolation_level=None, timeout=10)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        try:
            if create:
                self._db.executescript(SCHEMA)
            else:
                tables = {r[0] for r in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"handset", "node"} <= tables:
                    raise StoreError(f"{self.path} is not a dmlab tree store")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.DatabaseError, StoreError) as exc:
            self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "TreeStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def handsets(self) -> list[str]:
        try:
            return [r[0] for r in self._db.execute("SELECT id FROM handset ORDER BY id")]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def new_handset(self, handset_id: str, profile: profiles.Profile) -> Tree:
        """Register a handset made from `profile`; it starts with no differences."""
        if not profile.source:
            raise StoreError("a stored handset needs a profile loaded from a file")
        try:
            self._db.execute("INSERT INTO handset VALUES (?, ?, ?)",
                             (handset_id, profile.source, profile.digest))
        except sqlite3.IntegrityError:
            raise StoreError(f"handset {handset_id!r} already exists in {self.path}") from None
        return Tree(profile, sink=partial(self._save, handset_id))

    def open_handset(self, handset_id: str | None = None) -> Tree:
        """A stored handset's tree; with no id, the store must hold exactly one."""
        if handset_id is None:
            ids = self.handsets()
            if len(ids) != 1:
                raise StoreError(f"{self.path} holds {len(ids)} handsets; name one")
            handset_id = ids[0]
        try:
            row = self._db.execute("SELECT profile, profile_digest FROM handset WHERE id=?",
                                   (handset_id,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        if row is None:
            raise StoreError(f"no handset {handset_id!r} in {self.path}")
        profile = profiles.load(row[0])
        if profile.digest != row[1]:
            raise StoreError(f"profile {row[0]} changed since handset {handset_id!r} was made "
                             "from it; its stored differences no longer apply")
        overlay: dict[str, Node | None] = {}
        try:
            for path, deleted, *fields in self._db.execute(
                    f"SELECT path, deleted, {_COLUMNS} FROM node WHERE handset=?",
                    (handset_id,)):
                overlay[path] = None if deleted else _node(*fields)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        return Tree(profile, overlay=overlay, sink=partial(self._save, handset_id))

    def _save(self, handset_id: str, changes: Changes) -> None:
        rows, gone = [], []
        for path, entry in changes.items():
            if entry is ABSENT:
                gone.append((handset_id, path))
            elif entry is None:
                rows.append((handset_id, path, 1) + (None,) * 10)
            else:
                rows.append((handset_id, path, 0) + _row(entry))  # type: ignore[arg-type]
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("DELETE FROM node WHERE handset=? AND path=?", gone)
            db.executemany(f"INSERT OR REPLACE INTO node (handset, path, deleted, {_COLUMNS}) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _row(node: Node) -> tuple:
    return (node.format, node.value, node.type, node.acl, node.title, node.tstamp, node.verno,
            int(node.permanent), None if node.access is None else ",".join(sorted(node.access)),
            "/".join(node.children))


def _node(fmt, value, mime, acl, title, tstamp, verno, permanent, access, children) -> Node:
    return Node(format=fmt, value=value, type=mime, acl=acl, title=title, tstamp=tstamp,
                verno=verno, permanent=bool(permanent),
                access=None if access is None else frozenset(filter(None, access.split(","))),
                children=tuple(children.split("/")) if children else ())


def open_tree(path: str | os.PathLike[str], handset_id: str | None = None) -> Tree:
    """Open the handset in a store file (the store stays open as long as the tree lives)."""
    return TreeStore(path).open_handset(handset_id)
