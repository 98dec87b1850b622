"""The `sco-etl` command line: the root app and its commands (one module per group)."""

from flows.cli.app import app, main

__all__ = ["app", "main"]
