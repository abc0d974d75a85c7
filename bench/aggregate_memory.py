"""Partial aggregate memory on a stream of distinct keys (issue 14).

``d4p.testing.aggregates.distinct_keys``: a source writes ``--keys`` distinct
keys into ``aggregate.count(by=0, partial_size=--bound)``; the source runs in
a process of its own with the partial fused behind it, the final count (which
holds every key: that is its result) in the other. Prints how much the peak
resident memory of the source's process grew while it wrote the keys (the
partial's states plus what waits to be sent), the largest peak of any
process of the run (the final count's), the check that every key was counted
once, and the wall time. The same code as the test
``test_partial_state_stays_within_its_bound_on_a_stream_of_distinct_keys``
with 200,000 keys. Usage::

    python bench/aggregate_memory.py [--keys 10000000] [--bound 65536] [--buffer-mb 64]
"""

from __future__ import annotations

import argparse
import resource
import time

import d4p
from d4p.testing.aggregates import distinct_keys


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--bound", type=int, default=65_536, help="partial_size")
    parser.add_argument("--buffer-mb", type=int, default=64, help="multi's buffer_mb")
    args = parser.parse_args(argv)
    graph, inputs, pes = distinct_keys(args.keys, partial_size=args.bound)
    start = time.perf_counter()
    result = d4p.run(graph, inputs, mapping="multi", processes=2, buffer_mb=args.buffer_mb)
    seconds = time.perf_counter() - start
    keys, total = result[pes["keys"].id]["output"], result[pes["total"].id]["output"]
    (grown,) = result[pes["source"].id]["memory"]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB → MiB
    ok = keys == total == [args.keys]
    print(f"{args.keys:,} distinct keys, partial_size {args.bound:,}, multi -n 2, buffer_mb "
          f"{args.buffer_mb}: every key counted once: {ok}; the source's process (source + "
          f"partial) grew its peak resident memory by {grown / 2**20:.1f} MiB; largest peak of "
          f"a worker (the final count's, holding every key) {peak:.0f} MiB; {seconds:.1f} s; "
          f"states sent to the final count: {result.summary.units[pes['counts'].id]:,}")
    if not ok:
        raise SystemExit(f"wrong counts: {keys} keys, {total} in total")


if __name__ == "__main__":
    main()
