"""Learners: one algorithm family per file, each declaring tags, portfolio and search space."""
