"""CLI commands: each module is a thin skin over library functions.

A command module defines ``NAME``, ``HELP``, ``configure(parser)`` and ``run(args) -> int`` and
imports nothing heavy at module level (the healthy path of a job must stay fast).
"""
