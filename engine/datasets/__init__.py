"""Datasets: the small real data sets bundled in resources/ (available offline)."""
