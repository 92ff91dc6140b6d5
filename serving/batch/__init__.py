"""Batch re-screening of archived scans: `xscreen batch SRC --out DIR`, local threads or Ray Data.

`run(BatchOptions(...))` is the whole procedure (see `run.py`); `diff_runs(a, b)` compares two runs.
Imports nothing heavy: the engines and Ray load inside the functions that use them.
"""
