"""`python -m dmclient.cli` is `dmlab`."""

from dmclient.cli import main

main()
