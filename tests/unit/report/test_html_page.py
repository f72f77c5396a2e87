"""render_page: one self-contained document, user text escaped, Plotly embedded once."""

from __future__ import annotations

import re

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from kiln.report.html import Html, Section, figure, render_page, table


def _figure() -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))


def test_page_escapes_titles_intros_and_table_cells() -> None:
    section = Section("<i>cols</i>", "Read `x < y` \"carefully\"", table([{"name": "<b>x</b>", "n": 1200}],
                                                                          ["name", "n"]))

    page = render_page("A & B", [section], subtitle="<script>alert(1)</script>")

    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page
    assert "<code>x &lt; y</code>" in page and "&quot;carefully&quot;" in page
    assert "<title>A &amp; B</title>" in page and "1,200" in page


def test_page_passes_trusted_markup_through() -> None:
    page = render_page("t", [Section("s", "i", table([{"v": Html("<em>ok</em>")}], ["v"]))])

    assert "<em>ok</em>" in page


def test_page_embeds_plotly_once_however_many_figures() -> None:
    body = figure(_figure(), div_id="one") + figure(_figure(), div_id="two")

    page = render_page("t", [Section("a", "i", body), Section("b", "i", figure(_figure(), div_id="three"))])

    assert page.count(get_plotlyjs()) == 1
    assert page.count('class="plotly-graph-div"') == 3


def test_page_without_figures_carries_no_plotly() -> None:
    page = render_page("t", [Section("a", "i", "<p>text</p>")])

    assert "Plotly" not in page and len(page) < 10_000


def test_page_needs_nothing_from_the_network() -> None:
    page = render_page("t", [Section("a", "i", figure(_figure(), div_id="f"))])
    own = page.replace(get_plotlyjs(), "")

    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "<link" not in page
    assert "http://" not in own and "https://" not in own


def test_page_is_one_html_document_with_a_contents_list() -> None:
    page = render_page("t", [Section("First", "i", ""), Section("Second", "i", "")])

    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert page.count("<html") == 1
    assert '<a href="#section-1">First</a>' in page and 'id="section-2"' in page
