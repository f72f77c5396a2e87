"""Ensembles built from out-of-fold predictions."""
