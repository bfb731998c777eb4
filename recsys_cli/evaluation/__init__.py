"""Evaluation: vectorised full-ranking metrics, protocols and reports."""
