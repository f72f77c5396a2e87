"""Forecasting families and the fitted forecaster (what predicts, saves and loads).

One file per family, like kiln.learners: each says its tags and its search space and forecasts
one series (local statistical models) or a whole panel (the global gradient-boosting model).
This package sits at the learners' level: it never imports training, evaluation or reports.
"""

from __future__ import annotations

from kiln.forecasters.base import FAMILIES, QUANTILES, Family, family, season_length

__all__ = ["FAMILIES", "QUANTILES", "Family", "family", "season_length"]
