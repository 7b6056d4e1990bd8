"""Accuracy: the official protocols on prediction files (evaluate.py), a checkpoint run over a
dataset split (predict_split.py), and the synthetic benchmark (synthetic_benchmark.py)."""
