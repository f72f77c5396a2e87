"""`python -m kiln.cli`: the same command as the `kiln` entry point."""

from kiln.cli.app import main

main()
