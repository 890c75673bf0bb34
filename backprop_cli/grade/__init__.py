"""Backward files: read a backward pass written by hand (reading.py), grade it line by line
against the engine's gradients (grading.py, diagnoses.py), and write one (writing.py).

Only `backprop grade` and `backprop backward` import this package.
"""
