"""The one error an export raises, shared by the graph builder and the learner converters."""

from __future__ import annotations

from kiln.errors import KilnError


class ExportRefused(KilnError):
    """A part of the model cannot be expressed in ONNX, or the graph does not reproduce the model."""


def short(exc: BaseException) -> str:
    """A converter's message on one line, at most 300 characters."""
    text = " ".join(str(exc).split())
    return (text[:300] + "…") if len(text) > 300 else text or type(exc).__name__
