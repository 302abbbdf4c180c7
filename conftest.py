"""Root conftest: settings for the docstring examples of src/crm_research (run by
``--doctest-modules``, see pyproject.toml). Test fixtures live in tests/conftest.py.

Every module of the package is collected: all of its module-level imports are required
dependencies (tests/test_packaging.py checks this), so no module needs ``collect_ignore``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _doctests_run_from_the_repository_root(request, monkeypatch):
    """Examples name bundled files relative to the repository root ("surveys/..."), and
    examples that draw never open a window. (Only for doctests: notebook kernels started by
    other tests inherit the environment and must keep their inline figures.)"""
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(ROOT)
        monkeypatch.setenv("MPLBACKEND", "Agg")
