"""Shared fixtures and helpers for the cnnstep tests."""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "cnnstep",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("cnnstep")


@pytest.fixture
def rng():
    """A seeded generator per test (never the global NumPy seed)."""
    return np.random.default_rng(20261126)
