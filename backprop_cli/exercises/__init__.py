"""Exercises: CS231n-style circuits to backpropagate by hand, and the grading of the answers."""
