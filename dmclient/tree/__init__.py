"""The handset's DM Tree: URIs, ACLs, nodes and properties, transactions, TNDS, storage.

`Tree` is one handset's view (a shared `Profile` plus its own differences); operations
answer OMA DM status codes; `TreeStore` persists handsets in SQLite.
"""

from dmclient.tree.acl import Acl, AclCommand, AclError
from dmclient.tree.node import Node
from dmclient.tree.profile import Profile, ProfileError, load as load_profile
from dmclient.tree.result import AclDecision, Item, Result
from dmclient.tree.store import StoreError, TreeStore, open_tree
from dmclient.tree.tnds import TndsError
from dmclient.tree.tree import CommitError, Transaction, Tree
from dmclient.tree.uri import Uri, UriError, UriLimits

__all__ = [
    "Acl", "AclCommand", "AclDecision", "AclError", "CommitError", "Item", "Node", "Profile",
    "ProfileError", "Result", "StoreError", "TndsError", "Transaction", "Tree", "TreeStore",
    "Uri", "UriError", "UriLimits", "load_profile", "open_tree",
]
