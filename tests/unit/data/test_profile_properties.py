"""Property: whatever small, messy table arrives (nulls, mixed types, infinities, odd
column names), profile_table either refuses it with a KilnError or returns the same
profile every time, and the report renders it."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.data.profile import profile_table
from kiln.errors import KilnError
from kiln.report.profile import render_profile

ODD_NAMES = ["<b>x</b>", 'say "hi"', "it's", "a\nb", "[K]", "{x}", "Ünïcødé", "温度", "-1", " ", "&amp;", "</script>"]
names = st.one_of(st.sampled_from(ODD_NAMES),
                  st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8))

cells = {
    "int": st.one_of(st.none(), st.integers(-1000, 1000)),
    "binary": st.one_of(st.none(), st.sampled_from([0, 1])),
    "float": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "bool": st.one_of(st.none(), st.booleans()),
    "text": st.one_of(st.none(), st.text(max_size=20)),
    "level": st.one_of(st.none(), st.sampled_from(["a", "b", "<c>", "1,234", "5 kg", "?"])),
    "date": st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1)).map(str)),
    "mixed": st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(max_size=5), st.booleans()),
}


def _frame(draw: st.DrawFn, columns: list[str], n_rows: int) -> pd.DataFrame:
    data = {}
    for name in columns:
        kind = draw(st.sampled_from(sorted(cells)))
        values = draw(st.lists(cells[kind], min_size=n_rows, max_size=n_rows))
        data[name] = pd.Series(values, dtype=object) if kind == "mixed" else pd.Series(values)
    return pd.DataFrame(data)


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, str | None, pd.DataFrame | None]:
    """A table, maybe a target among its columns, maybe a comparison table sharing some columns."""
    columns = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    frame = _frame(draw, columns, draw(st.integers(1, 40)))
    target = draw(st.one_of(st.none(), st.sampled_from(columns)))
    compare = None
    if draw(st.booleans()):
        shared = draw(st.lists(st.sampled_from(columns), min_size=1, unique=True))
        compare = _frame(draw, shared + draw(st.lists(names.filter(lambda n: n not in columns), max_size=1)),
                         draw(st.integers(1, 40)))
    return frame, target, compare


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_profile_is_refused_with_kiln_error_or_deterministic(
        table: tuple[pd.DataFrame, str | None, pd.DataFrame | None]) -> None:
    frame, target, compare = table
    try:
        first = profile_table(frame, target=target, compare=compare)
    except KilnError:
        return

    again = profile_table(frame.copy(), target=target, compare=None if compare is None else compare.copy())

    assert first.to_dict() == again.to_dict()
    json.dumps(first.to_dict(), allow_nan=False)
    assert [c.name for c in first.column_profiles] == list(frame.columns)
    assert isinstance(render_profile(first), str)
