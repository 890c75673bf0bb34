"""Batch checking, one module per job: cases.py reads case files, run.py runs one case, pool.py
runs many (in this process or a pool of workers), dask.py on a Dask cluster, report.py counts.
"""
