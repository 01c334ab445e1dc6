"""Benchmarks (not tests): `python -m benchmarks` prints ratios against NumPy, pinned to one core."""
