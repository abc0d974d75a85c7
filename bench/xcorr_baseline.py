"""Baseline for the xcorr benchmark: the xcorr workflow's steps as a plain script.

No d4p: a loop over the stations (read, decimate, detrend, demean, remove
response, band-pass, one-bit, whiten, FFT), a loop over the 4,950 pairs
(correlate, write one SAC file each), then the summary CSV and the record
section, with the same science functions and defaults as ``d4p run xcorr``, so
the benchmark measures what d4p adds.

    python bench/xcorr_baseline.py --stations 100 --hours 1 --data DIR --output DIR

The synthetic data are made first (not timed) unless ``--data`` already holds
them. Prints one JSON line: seconds (the timed part), pairs, recovered lags,
peak memory (MiB, ru_maxrss of this process).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from itertools import combinations
from pathlib import Path

import obspy
from d4p_seismo import processing as P
from d4p_seismo.plot import record_section
from d4p_seismo.results import compare_with_expected, correlation_row, write_sac, write_summary
from d4p_seismo.synthetic import expected_lags, load_dataset, make_dataset


def prepare(path: Path, inventory, start, end, target_rate, freqmin, freqmax, max_lag):
    tr = obspy.read(str(path)).merge(method=1, fill_value="interpolate")[0]
    tr.data = tr.data.astype("float64")
    tr.trim(start, end - tr.stats.delta / 2, pad=True, fill_value=float(tr.data.mean()),
            nearest_sample=False)
    P.attach_coordinates(tr, inventory)
    P.decimate(tr, P.decimation_factor(tr, target_rate))
    P.detrend(tr)
    P.demean(tr)
    P.remove_response(tr, inventory)
    P.bandpass(tr, freqmin, freqmax)
    P.onebit(tr)
    P.whiten(tr, freqmin, freqmax)
    return P.spectrum(tr, max_lag)


def run(data: Path, output: Path, target_rate=10.0, freqmin=0.1, freqmax=1.0, max_lag=60.0):
    dataset = load_dataset(data)
    inventory = obspy.read_inventory(str(data / "stations.xml"))
    start, end = dataset.starttime, dataset.endtime
    spectra = {}
    for path in sorted(data.glob("*.mseed")):
        s = prepare(path, inventory, start, end, target_rate, freqmin, freqmax, max_lag)
        spectra[s.id] = s
    folder = output / "correlations"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for a, b in combinations(sorted(spectra), 2):
        corr = P.correlate(spectra[a], spectra[b], max_lag)
        target = folder / f"{corr.pair}.sac"
        write_sac(corr, target)
        row = correlation_row(corr, str(target))
        row["sampling_rate"] = corr.sampling_rate
        row["data"] = corr.data.astype("float32")
        rows.append(row)
    within = compare_with_expected(rows, expected_lags(dataset))
    write_summary(rows, output / "summary.csv")
    record_section(rows, output / "record_section.png")
    return len(rows), within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="xcorr-data-"))
    if not (data / "dataset.json").is_file():
        make_dataset(data, stations=args.stations, hours=args.hours, seed=args.seed)
    output = args.output or Path(tempfile.mkdtemp(prefix="xcorr-baseline-"))
    start = time.perf_counter()
    pairs, within = run(data, output)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "seconds": round(seconds, 3), "pairs": pairs, "within_one_sample": within,
        "peak_memory_mib": round(peak, 1), "data": str(data), "output": str(output),
    }))


if __name__ == "__main__":
    main()
