"""The `sco-etl` command line: the root app and its commands (one module per group)."""

from sco_etl.flows.cli.app import app, main

__all__ = ["app", "main"]
