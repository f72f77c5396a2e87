"""Tracking and registry (MLflow), kiln's own tables (prediction log, promotion audit)."""
