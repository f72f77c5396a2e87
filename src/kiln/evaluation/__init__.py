"""Metrics and statistics: honest numbers with their uncertainty."""
