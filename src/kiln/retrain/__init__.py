"""Retraining: a challenger trained on new data, a paired statistical gate, promotion or a recorded keep."""

from kiln.retrain.challenger import RetrainResult, retrain

__all__ = ["RetrainResult", "retrain"]
