"""Benchmarks, run by hand (see the README): figures to read, not tests to pass."""
