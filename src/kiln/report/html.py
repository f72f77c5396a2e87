"""Self-contained HTML pages, shared by every kiln report: Jinja2 templates with autoescape.

A page opens offline and forever: CSS inline, the Plotly library embedded once, and
no external URL (no CDN, no web font). The page and table templates (templates/) escape
every value, so a column named `<b>x</b>` shows as typed; only markup built by these
helpers (`Html`) passes raw, marked as such where it enters a template.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_FIGURE_MARK = 'class="plotly-graph-div"'


class Html(str):
    """Markup built by kiln itself; `table` and `render_page` pass it through unescaped."""


@dataclass(frozen=True)
class Section:
    """One part of a page: a title, an introduction in plain words, and its body."""

    title: str
    intro: str  # plain text; `code` in backticks is shown as code
    body_html: str  # trusted markup built with `table`, `figure`, `paragraph`, ...


def escape(text: object) -> str:
    """User text as safe HTML (quotes included, for attributes)."""
    return html.escape(str(text), quote=True)


def paragraph(text: str) -> Html:
    """Plain text as a paragraph; `code` in backticks becomes <code>."""
    return Html(f"<p>{_inline(text)}</p>")


def badge(label: str, tone: str) -> Html:
    """A small coloured label; `tone` is one of error, warning, info, ok."""
    return Html(f'<span class="badge {escape(tone)}">{escape(label)}</span>')


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, headers: dict[str, str] | None = None) -> Html:
    """An HTML table of `rows` (dicts) showing `columns`; numbers formatted, text escaped.

    A table whose headers are all empty (a list of facts) has no header row.
    """
    headers = headers or {}
    labels = [str(headers.get(c, c)) for c in columns]
    cells = [[{"value": _cell(row.get(c)), "nowrap": _nowrap(row.get(c))} for c in columns] for row in rows]
    return Html(_template("table.html").render(labels=labels, rows=cells))


def figure(fig: Any, *, div_id: str) -> Html:
    """A Plotly figure as a <div> and its script, without the library (the page embeds it once)."""
    markup = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                         config={"displaylogo": False, "responsive": True, "displayModeBar": "hover"})
    return Html(f'<div class="figure">{markup}</div>')


def number(value: Any) -> str:
    """A score as text: four decimals, or thousands separators for large values; — when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def interval(low: Any, high: Any) -> str:
    """A 95% interval as `low – high`, or — when it could not be computed."""
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return "—"
    return f"{number(low)} – {number(high)}"


def render_page(title: str, sections: Sequence[Section], *, subtitle: str | None = None) -> str:
    """One complete HTML document with a contents list and every section in order."""
    from markupsafe import Markup

    library = ""
    if any(_FIGURE_MARK in section.body_html for section in sections):
        from plotly.offline import get_plotlyjs

        library = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    return _template("page.html").render(title=title, subtitle=subtitle, sections=sections, css=Markup(_CSS),
                                         library=Markup(library))


@functools.cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined
    from markupsafe import Markup

    environment = Environment(loader=PackageLoader("kiln.report", "templates"), autoescape=True,
                              undefined=StrictUndefined)
    environment.filters["inline"] = lambda text: Markup(_inline(text))
    environment.filters["trusted"] = Markup  # a Section's body is markup these helpers built
    return environment


def _template(name: str) -> Any:
    return _environment().get_template(name)


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


_CODE = re.compile(r"[A-Z]{2,4}\d{2,4}")  # a check's code, such as DQ009


def _nowrap(value: Any) -> bool:
    """A cell holding a badge or a short code does not wrap (a code split over two lines misreads)."""
    return (isinstance(value, Html) and 'class="badge' in value) or (isinstance(value, str)
                                                                      and _CODE.fullmatch(value) is not None)


def _cell(value: Any) -> Any:
    """What a cell shows: kiln's markup as is, numbers formatted, anything else as text (the template escapes it)."""
    from markupsafe import Markup

    if isinstance(value, Html):
        return Markup(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;background:#f7f8fa;
line-height:1.45}
header{background:#1f3a5f;color:#fff;padding:1.2rem 2rem}header h1{margin:0 0 .3rem;font-size:1.6rem}
.subtitle{margin:0 0 .6rem;opacity:.85}nav ol{margin:0;padding-left:1.2rem;display:flex;flex-wrap:wrap;gap:.2rem 1.6rem}
nav a{color:#cfe0f5}main{padding:1rem 2rem 3rem;max-width:1400px}
section{background:#fff;border:1px solid #e1e5ea;border-radius:8px;padding:1rem 1.4rem;margin:1rem 0}
h2{margin:.2rem 0 .4rem;font-size:1.25rem}.intro{color:#52606d;margin-top:0}
code{background:#eef1f5;padding:0 .25rem;border-radius:3px;font-size:.92em}
.table-wrap{overflow-x:auto}table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e6e9ee;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f3f7;position:sticky;top:0}td{max-width:40rem;overflow-wrap:anywhere}
td.nowrap{white-space:nowrap;overflow-wrap:normal}.badge{white-space:nowrap}
.badge{display:inline-block;padding:0 .45rem;border-radius:10px;font-size:.8rem;font-weight:600;color:#fff}
.badge.error{background:#c0392b}.badge.warning{background:#d68910}.badge.info{background:#2e86c1}
.badge.ok{background:#1e8449}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:.6rem}
.figure{min-width:0}.note{color:#52606d;font-style:italic}
"""
