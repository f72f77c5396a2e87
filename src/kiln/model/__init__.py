"""The tabular predictor that training returns and a bundle holds (see predictor.py)."""

from kiln.model.predictor import FoldModel, Member, Model

__all__ = ["FoldModel", "Member", "Model"]
