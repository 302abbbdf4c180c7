"""Fixtures shared by several test modules (plain helpers live in _helpers.py)."""
from __future__ import annotations

import pytest

from _helpers import INSTRUMENT


@pytest.fixture(scope="module")
def inst():
    """The bundled e-commerce CRM instrument, loaded once per test module."""
    from crm_research import instruments

    return instruments.load_instrument(INSTRUMENT)
