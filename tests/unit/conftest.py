"""Shared settings for the unit tests.

OpenMP and BLAS pools spin-wait for their threads: on a busy 2-core machine a 300-row
HistGradientBoosting fit took 25 s with two OpenMP threads and 0.1 s with one. kiln's
search workers run one native thread each (search/runner.py), so unit tests do the same.
The limit is applied per test, so libraries loaded by an earlier test are covered too,
and nothing leaks into the environment of other test suites or their subprocesses.
"""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_native_thread():
    with threadpool_limits(limits=1):
        yield
