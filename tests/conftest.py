"""Fixtures shared by test modules."""

from __future__ import annotations

import pytest


@pytest.fixture
def brian2_numpy_codegen():
    """Brian2's numpy code generation for the test (no C++ compiler needed), restored after it."""
    import brian2

    old = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = "numpy"
    yield
    brian2.prefs.codegen.target = old
