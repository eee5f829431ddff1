"""Evaluation protocols: one file per protocol."""
