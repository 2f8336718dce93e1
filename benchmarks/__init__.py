"""synthkit benchmarks: measured outside the test suite, results under benchmarks/results/."""
