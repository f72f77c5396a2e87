"""Shares as text: a non-zero share is never 0.0%, one short of all never 100.0%."""

from __future__ import annotations

import pytest

from kiln.data.percent import part_of, percent


@pytest.mark.parametrize(("part", "whole", "text"), [(1, 2250, "0.04%"), (2249, 2250, "99.96%"), (0, 10, "0.0%"),
                                                     (10, 10, "100.0%"), (335, 10_000, "3.4%"), (3, 0, "—")])
def test_part_of_keeps_the_decimals_a_share_needs(part: int, whole: int, text: str) -> None:
    assert part_of(part, whole) == text


def test_shares_beyond_four_decimals_say_so() -> None:
    assert percent(1e-9) == "< 0.0001%" and percent(1 - 1e-9) == "> 99.9999%"
