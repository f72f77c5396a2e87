"""Property: whatever small, messy table arrives, infer_schema either refuses it with an
InvalidDataError or returns a schema whose coerce() keeps every row, in order."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.data.schema import infer_schema
from kiln.errors import InvalidDataError

# Column names with spaces, unicode, punctuation and look-alikes of reserved words.
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)

cells = {
    "int": st.one_of(st.none(), st.integers(-1000, 1000)),
    "float": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False, width=32)),
    "bool": st.one_of(st.none(), st.booleans()),
    "text": st.one_of(st.none(), st.text(max_size=40)),
    "date": st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1)).map(str)),
    "mixed": st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(max_size=5), st.booleans()),
}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n_rows = draw(st.integers(1, 30))
    columns = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    data = {}
    for name in columns:
        kind = draw(st.sampled_from(sorted(cells)))
        values = draw(st.lists(cells[kind], min_size=n_rows, max_size=n_rows))
        data[name] = pd.Series(values, dtype=object) if kind == "mixed" else pd.Series(values)
    index = draw(st.sampled_from(["range", "shifted", "strings"]))
    labels = {"range": range(n_rows), "shifted": range(100, 100 + n_rows),
              "strings": [f"r{i}" for i in range(n_rows)]}[index]
    return pd.DataFrame(data).set_axis(list(labels))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_infer_schema_refuses_or_coerces_keeping_rows_and_index(frame: pd.DataFrame) -> None:
    try:
        schema = infer_schema(frame)
    except InvalidDataError:
        return

    out = schema.coerce(frame)

    assert len(out) == len(frame)
    assert out.index.equals(frame.index)
    assert list(out.columns) == schema.names
    assert set(schema.names) | set(schema.dropped) == set(frame.columns)
    for column in schema.columns:
        if column.kind in ("numeric", "boolean"):
            assert out[column.name].dtype == np.float64
