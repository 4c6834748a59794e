"""Benchmarks; results are recorded in bench/README.md."""
