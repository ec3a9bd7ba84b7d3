"""The README's two commands are the project's promise; CI must run the same test command."""

from __future__ import annotations

import re
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (TOP / "README.md").read_text()
    first_section = text.split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", first_section)


def test_readme_starts_with_exactly_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert "dmlab " in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (TOP / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci
