"""Preprocessing per learner family: a scikit-learn ColumnTransformer built from the schema."""
