"""The `kiln` command: a thin Typer shell over the Python API (app.py) and what it prints (console.py)."""

from kiln.cli.app import app, main

__all__ = ["app", "main"]
