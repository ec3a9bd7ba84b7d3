"""The one error a bootstrap can end in."""

from __future__ import annotations


class BootstrapError(ValueError):
    """A bootstrap refused: unsigned, forged, malformed, or not for this handset.

    The message is one line a user can act on; when it is raised, the tree is unchanged.
    """
