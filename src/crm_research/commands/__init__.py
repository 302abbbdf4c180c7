"""Subcommands of the ``crm-research`` CLI, one module each (see :mod:`crm_research.cli`)."""
