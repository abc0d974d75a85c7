"""A day of 100 Hz data between grid points, put on the grid: d4p-seismo against ObsPy.

    python bench/seismo_grid.py [--hours 24] [--repeat 3]

Times, in one process and on the same samples (ObsPy's example record
BW.RJOB..EHZ repeated to the length asked for, starting 0.37 sample off the
grid), ObsPy's ``Trace.interpolate(method="lanczos", a=20)`` (what
``align_to_grid`` used) against ``d4p_seismo.processing.align_to_grid``, and
then the whole reading of that day by ``ReadTrace`` from a miniSEED file
(read, merge, grid, cut). Prints a Markdown table: best seconds of
``--repeat``, and how far each result is from the Lanczos sum computed
directly at 2,000 samples spread over the record (relative to the largest
amplitude).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import obspy
from d4p_seismo import processing as P
from d4p_seismo.pes import ReadTrace

OFFSET = 0.37  # samples


def best(repeat: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def direct_lanczos(x: np.ndarray, positions: np.ndarray, a: int = 20) -> np.ndarray:
    i = np.floor(positions)[:, None].astype(int) + np.arange(-a + 1, a + 1)[None, :]
    t = positions[:, None] - i
    inside = (i >= 0) & (i < x.size)
    values = np.where(inside, x[np.clip(i, 0, x.size - 1)], 0.0)
    return np.sum(values * np.sinc(t) * np.sinc(t / a), axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    raw = obspy.read().select(channel="EHZ")[0]
    npts = int(args.hours * 3600 * raw.stats.sampling_rate)
    data = np.resize(raw.data.astype(np.float64), npts)
    grid = raw.stats.starttime
    off = obspy.Trace(data, {"network": "BW", "station": "RJOB", "channel": "EHZ",
                             "sampling_rate": 100.0, "starttime": grid + OFFSET / 100.0})
    out_start, out_npts = grid + 0.01, npts - 1

    obspy_s, theirs = best(args.repeat, lambda: off.copy().interpolate(
        100.0, method="lanczos", a=20, starttime=out_start, npts=out_npts).data)
    ours_s, ours = best(args.repeat, lambda: P.align_to_grid(off.copy(), grid).data)
    picks = np.linspace(0, out_npts - 1, 2000).astype(int)
    exact = direct_lanczos(data, picks + 1.0 - OFFSET)
    scale = np.abs(data).max()

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "day.mseed")
        obspy.Stream([off]).write(path, format="MSEED", encoding="FLOAT64")
        read = ReadTrace(starttime=grid, endtime=grid + args.hours * 3600 - 1)
        read_s, _ = best(args.repeat, lambda: read.read(path))

    hours = f"{args.hours:g} h"
    print(f"Command: `python bench/seismo_grid.py --hours {args.hours:g} --repeat {args.repeat}`"
          f"; Python {sys.version.split()[0]}, ObsPy {obspy.__version__}, NumPy {np.__version__}")
    print()
    print(f"| {hours} of 100 Hz, {OFFSET} sample off the grid | best s | "
          "max error / max amplitude |")
    print("| --- | ---: | ---: |")
    print(f"| ObsPy Trace.interpolate (lanczos, a=20) | {obspy_s:.3f} | "
          f"{np.abs(theirs[picks] - exact).max() / scale:.1e} |")
    print(f"| d4p-seismo align_to_grid | {ours_s:.3f} | "
          f"{np.abs(ours[picks] - exact).max() / scale:.1e} |")
    print(f"| ReadTrace.read of the {hours} miniSEED file (all steps) | {read_s:.3f} | |")
    print()
    print(f"align_to_grid {obspy_s / ours_s:.1f}x faster; the two results differ by at most "
          f"{np.abs(theirs - ours).max() / scale:.1e} of the amplitude")


if __name__ == "__main__":
    main()
