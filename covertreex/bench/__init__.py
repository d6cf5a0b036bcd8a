"""Benchmarks: workloads, peer adapters, one timing helper, one answer checker and the rows they report.

Nothing here is imported by the engine; the CLI's ``bench`` commands and the benchmark widget use it.
"""
