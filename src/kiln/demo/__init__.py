"""Demo data and flow: a generated predictive-maintenance table and the kiln demo loop."""
