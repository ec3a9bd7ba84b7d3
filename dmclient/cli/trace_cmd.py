"""`dmlab trace show DIR`: who sent what in a traced session."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape

from dmclient.trace import transcripts


@click.group("trace")
def trace_group() -> None:
    """Read the traces `dmlab handset … --trace DIR` writes."""


@trace_group.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def show(directory: str) -> None:
    """Print a transcript of one session directory, or of every session under DIR."""
    console = Console(highlight=False, soft_wrap=True)
    for n, transcript in enumerate(transcripts(directory)):
        if n:
            console.print()
        console.print(f"[bold]{escape(transcript.title)}[/]")
        for line in transcript.lines:
            colour = "cyan" if line.sender == "handset" else "magenta"
            console.print(f"[dim]{escape(line.time)}[/]  "
                          f"[{colour}]{escape(line.sender)} → {escape(line.receiver)}[/]  "
                          f"{escape(line.text)}")
