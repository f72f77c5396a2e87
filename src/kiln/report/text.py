"""The evaluation report's section for a classifier that reads a text column.

It renders `Evaluation.text` (kiln.evaluation.text) and computes nothing of its own: accuracy
and macro-F1 with their intervals (from the Scores table), per-class precision and recall,
the most-confused pairs with example texts (user text: escaped), the accuracy–coverage
curve of the reject option with the stored threshold's point, and the n-grams that drive
each class. The confusion matrix is the Plots section's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiln.report.html import Html, Section, escape, figure, interval, number, paragraph, table

if TYPE_CHECKING:
    from kiln.evaluation.result import Evaluation
    from kiln.evaluation.text import TextEvaluation

HEADLINE = ("accuracy", "macro_f1")


def text_section(ev: Evaluation, *, prefix: str = "eval") -> Section | None:
    """The text classifier's section, or None when the evaluation has no text tables."""
    text = ev.text
    if text is None:
        return None

    intro = (
        "What the model does with the messages: how often it is right overall and per class, which classes "
        "it mixes up (with messages it got wrong), how accurate it is when it may refuse to answer, and "
        "which words and character n-grams push it towards each class. The confusion matrix is in Plots."
    )
    scores = {s.metric: s for s in ev.scores}
    headline = [
        {
            "metric": {"accuracy": "accuracy", "macro_f1": "macro-F1"}[name],
            "value": number(scores[name].value),
            "interval": interval(scores[name].ci_low, scores[name].ci_high),
        }
        for name in HEADLINE
        if name in scores
    ]
    parts = [table(headline, ["metric", "value", "interval"], headers={"interval": "95% interval"})] if headline else []
    parts += [
        "<h3>Per class</h3>",
        _per_class(text),
        "<h3>Most-confused pairs</h3>",
        _confused(text),
        "<h3>Accuracy against coverage (the reject option)</h3>",
        *_coverage(text, prefix),
        "<h3>N-grams that drive each class</h3>",
        _ngrams(text),
    ]
    return Section("Text classification", intro, Html("".join(parts)))


def _per_class(text: TextEvaluation) -> Html:
    rows = [
        {
            "class": r["class"],
            "rows": int(r["support"]),
            "precision": f"{r['precision']:.3f}",
            "recall": f"{r['recall']:.3f}",
        }
        for r in text.per_class.to_dict("records")
    ]
    return Html(
        paragraph(
            "Precision: of the messages given this class, the share that were it. Recall: of the "
            "messages of this class, the share found. Low recall with many rows is a class "
            "worded in ways training did not show; more varied examples help."
        )
        + table(rows, ["class", "rows", "precision", "recall"])
    )


def _confused(text: TextEvaluation) -> Html:
    if text.confused.empty:
        return paragraph("No message was given a wrong class here.")
    rows = [
        {
            "true class": r["true"],
            "predicted": r["predicted"],
            "rows": int(r["rows"]),
            "examples": Html("<ul>" + "".join(f"<li>{escape(e)}</li>" for e in r["examples"]) + "</ul>"),
        }
        for r in text.confused.to_dict("records")
    ]
    return Html(
        paragraph(
            "The pairs of classes mixed up most often, with messages of the first predicted as the "
            "second. Read them: a label that is wrong, two intents that overlap, or wording the "
            "model never saw."
        )
        + table(rows, ["true class", "predicted", "rows", "examples"])
    )


def _coverage(text: TextEvaluation, prefix: str) -> list[Any]:
    curve = text.coverage
    if curve.empty:
        return [paragraph("No accuracy–coverage curve: no rows were scored.")]
    parts: list[Any] = [figure(coverage_figure(text), div_id=f"figure-{prefix}-coverage")]
    rule = text.reject
    if rule is not None:
        accuracy = "—" if rule["accuracy"] is None else f"{rule['accuracy']:.3f}"
        parts.append(
            paragraph(
                f"The stored threshold {rule['threshold']:.4f} answers {rule['coverage']:.1%} of "
                f"these messages, at accuracy {accuracy}; the rest get '{rule['label']}'."
            )
        )
    else:
        parts.append(
            paragraph(
                "This model answers every message (trained without `--reject-below`); the curve "
                "shows what a confidence threshold would trade: train with `--reject-below auto` to "
                "choose one for a stated precision."
            )
        )
    rows = [
        {
            "confidence at least": f"{r['threshold']:.3f}",
            "answered": f"{r['coverage']:.1%}",
            "accuracy of the answers": f"{r['accuracy']:.3f}",
        }
        for r in curve.iloc[::4].to_dict("records")
    ]
    parts.append(table(rows, ["confidence at least", "answered", "accuracy of the answers"]))
    return parts


def coverage_figure(text: TextEvaluation) -> Any:
    """Accuracy of the answered messages against the share answered, the stored threshold marked."""
    import plotly.graph_objects as go

    curve = text.coverage
    fig = go.Figure(
        go.Scatter(
            x=curve["coverage"],
            y=curve["accuracy"],
            mode="lines+markers",
            name="answers",
            customdata=curve["threshold"],
            hovertemplate="confidence ≥ %{customdata:.3f}<br>answered %{x:.1%}<br>accuracy %{y:.3f}<extra></extra>",
        )
    )
    if text.reject is not None and text.reject["accuracy"] is not None:
        fig.add_trace(
            go.Scatter(
                x=[text.reject["coverage"]],
                y=[text.reject["accuracy"]],
                mode="markers",
                marker={"size": 12, "symbol": "star"},
                name="stored threshold",
            )
        )
    fig.update_layout(
        xaxis_title="share of messages answered",
        yaxis_title="accuracy of the answers",
        xaxis={"tickformat": ".0%", "autorange": "reversed"},
        height=340,
        margin={"l": 50, "r": 20, "t": 30, "b": 40},
    )
    return fig


def _ngrams(text: TextEvaluation) -> Html:
    if text.ngrams.empty:
        return paragraph("No n-gram weights: no member of this model reads the text through n-grams.")
    grouped = text.ngrams.groupby("class", sort=False)
    rows = [
        {
            "class": label,
            "n-grams (weight)": ", ".join(f"{_gram(g)} ({g['weight']:.2f})" for g in group.to_dict("records")),
        }
        for label, group in grouped
    ]
    return Html(
        paragraph(
            f"From {text.ngrams_source}. A high weight pushes a message towards the class; "
            "character n-grams (in quotes, spaces included) catch misspellings and word endings."
        )
        + table(rows, ["class", "n-grams (weight)"])
    )


def _gram(row: dict[str, Any]) -> str:
    """A word n-gram as it is; a character n-gram in quotes, so its spaces show."""
    return f"'{row['ngram']}'" if row.get("kind") == "char" else str(row["ngram"])
