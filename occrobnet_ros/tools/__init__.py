"""Tools around the product: speed benchmarks (bench.py, bench_ros.py), the demo, and the
reliability checks (fuzz, soak). Nothing in the package imports from here."""
