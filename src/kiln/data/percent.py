"""A share as a person reads it: never 0.0% for a count that is not zero, nor 100.0% for one short of all.

"1 of 2,250 rows (0.0%)" reads as a contradiction (issue 13); the share gets the decimals it
needs to be told from 0% and 100% (0.04%, 99.96%), and one decimal otherwise.
"""

from __future__ import annotations

import math

MAX_DECIMALS = 4


def percent(share: float, decimals: int = 1) -> str:
    """`share` (0–1) as a percentage with `decimals`, more when fewer would round a non-zero share to 0 or a
    share below one to 100; beyond MAX_DECIMALS it says "< 0.0001%" (or "> 99.9999%")."""
    if not math.isfinite(share):
        return "—"
    value = 100 * share
    if value == 0 or value == 100:
        return f"{value:.{decimals}f}%"
    for places in range(decimals, MAX_DECIMALS + 1):
        text = f"{value:.{places}f}"
        if float(text) not in (0.0, 100.0):
            return f"{text}%"
    step = 10**-MAX_DECIMALS
    return f"< {step:.{MAX_DECIMALS}f}%" if value < 50 else f"> {100 - step:.{MAX_DECIMALS}f}%"


def part_of(part: int, whole: int, decimals: int = 1) -> str:
    """`part` of `whole` as a percentage (see `percent`); 0 wholes give "—"."""
    return percent(part / whole, decimals) if whole else "—"
