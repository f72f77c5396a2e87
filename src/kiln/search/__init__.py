"""Model search: time accounting, which configs in which order, and running k-fold trials."""
