"""Event-time windows with many keys: microseconds a unit, by number of keys.

``d4p.window.time(10, time=..., by=0)`` (a shared watermark) gets 100,000
units whose time moves on with every unit, spread over ``keys`` keys (1,000
stations of a seismic network...). Each moving watermark must write the
windows that have ended: a cost per key would make the PE slower the more
keys it serves. The PE runs alone, fed directly (no mapping), best of three.
Usage::

    python bench/window_keys.py [--units 100000]
"""

from __future__ import annotations

import argparse
import time

from d4p.window import TimeWindow


def per_unit(keys: int, units: int) -> float:
    """Seconds a unit, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        window = TimeWindow(10, time=lambda u: u[1], by=0)
        written: list = []
        window._d4p_emit = {"output": written.append}
        start = time.perf_counter()
        for i in range(units):
            window.process({"input": (i % keys, i * 0.01)})
        window.postprocess()
        best = min(best, (time.perf_counter() - start) / units)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    units = parser.parse_args().units
    print("| keys | µs a unit |\n| ---: | ---: |")
    for keys in (10, 1_000, 5_000):
        print(f"| {keys:,} | {per_unit(keys, units) * 1e6:.1f} |")


if __name__ == "__main__":
    main()
