"""Shared settings for the unit tests.

OpenMP pools (scikit-learn's HistGradientBoosting, numpy's BLAS) spin-wait for their
threads; on a busy 2-core machine that made a 300-row fit take 25 s instead of 0.1 s.
kiln's search workers run with one native thread each (search/runner.py), so the tests
do the same: the variable is set before any native library loads, and the limit is
re-applied for libraries that were loaded anyway.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _one_native_thread():
    with threadpool_limits(limits=1):
        yield
