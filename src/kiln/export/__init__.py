"""Exporting a trained model outside Python: the whole predictor as one ONNX graph (onnx.py)."""
