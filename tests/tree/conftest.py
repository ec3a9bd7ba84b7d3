from __future__ import annotations

import pytest

from dmclient.tree import Tree, load_profile


@pytest.fixture
def tree() -> Tree:
    """A fresh handset from the default profile, with a clock the test can read."""
    return Tree(load_profile("default"), clock=lambda: 1_700_000_000.0)
