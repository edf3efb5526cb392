"""Benchmark workloads: each module trains one seed model on the engine and on peers."""
