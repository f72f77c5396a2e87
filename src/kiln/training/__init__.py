"""Training: the search over learners, the ensemble, the decision threshold and the learning curve.

`train_model(data, spec, reporter)` turns a table into a `Model`; it neither saves nor renders it.
"""
