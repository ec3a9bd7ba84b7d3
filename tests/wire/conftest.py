"""Fixtures of the wire tests: the libwbxml tools, which CI must have."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from wire_support import Libwbxml


@pytest.fixture
def libwbxml(tmp_path: Path) -> Libwbxml:
    """Skips when libwbxml2-utils is missing, unless CI is set: then the test fails."""
    missing = [tool for tool in ("xml2wbxml", "wbxml2xml") if shutil.which(tool) is None]
    if missing:
        message = f"libwbxml2-utils not installed ({', '.join(missing)} missing)"
        if os.environ.get("CI"):
            pytest.fail(message + " and CI is set: interop tests must run")
        pytest.skip(message)
    return Libwbxml(tmp_path)
