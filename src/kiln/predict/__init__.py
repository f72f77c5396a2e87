"""Prediction of files: streamed in bounded-memory batches on one machine, or as Ray Data partitions."""
