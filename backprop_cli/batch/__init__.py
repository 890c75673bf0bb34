"""Batch checking, one module per job: stream.py reads the case file in bounded lines, cases.py
turns text lines (and records.py JSON records) into `Case`s (case.py), run.py runs one case,
pool.py runs many (in this process or a pool of workers), dask.py on a Dask cluster, report.py
counts and owns the exit code.
"""
