"""backprop: a command-line gradient calculator (computational graph, chain rule, cross-checks)."""

__version__ = "0.1.0"
