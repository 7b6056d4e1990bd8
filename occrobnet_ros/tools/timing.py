"""Summary statistics of measured times, shared by the speed benchmarks."""

import statistics

import numpy as np


def summary(values: list[float]) -> dict:
    """Median, 95th percentile (nearest rank), mean, min, max (rounded to microseconds)."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "mean": round(statistics.fmean(ordered), 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }
