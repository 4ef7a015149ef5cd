"""Subcommands of the ``zssar`` command line, one module each.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``main(args) -> dict``
(the dict is printed as JSON with ``--json``) and optionally ``human(out)`` for plain output.
Register a new module by adding its name to ``COMMANDS``.
"""
COMMANDS = ["run", "data", "protocol", "pretrain", "text", "describe", "jobs"]
