"""Benchmarks: ``make bench-ingest`` and ``make bench-portal``. Figures are ratios in one run."""
