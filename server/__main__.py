"""`python -m server` is the same as the `shelter-signal` command."""

from server.cli import main

main()
