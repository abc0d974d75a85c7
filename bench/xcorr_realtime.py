"""Real-time xcorr from SeedLink (issue 15): does ``d4p run xcorr -p seedlink=...``
on ``multi -n 2`` keep up with 50 stations at 20 Hz served 20x faster than
real time, and are its correlations those of the file workflow?

    python bench/xcorr_realtime.py [--stations 50] [--hours 1] [--window 600] [--speed 20]

Makes the synthetic data set (not timed), serves it with the tests' SeedLink
server (packages/d4p-seismo/tests/seismo_seedlink_server.py, in this process)
at ``--speed`` times real time, runs ``d4p run xcorr -p seedlink=...
--mapping multi -n 2`` in a subprocess, and once every record was sent and
all windows but the last were written, stops it with SIGINT (a graceful
stop: the last window is written too). For each window: the lag from the
arrival of its last sample (the wall time the server sent the record holding
each station's last sample of the window, the latest over the stations) to
its correlations being written (the newest SAC file of the window). The
stream brings one window every ``window / speed`` s of wall time, so the run
keeps up while every lag stays below that (and, the issue's wording, below
one window length). Then the file workflow (``-p data=DIR -p window=...``,
multi -n 2) runs on the same files and every window's correlations must be
equal. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packages" / "d4p-seismo" / "tests"))

from seismo_seedlink_server import SeedLinkServer  # noqa: E402


def d4p(*args: str) -> list[str]:
    return [sys.executable, "-m", "d4p", "run", "xcorr", *args, "--mapping", "multi", "-n", "2"]


def rows(path: Path) -> dict:
    with open(path, newline="") as handle:
        return {(r["pair"], r["starttime"]): r for r in csv.DictReader(handle)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=50)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=600.0)
    ap.add_argument("--speed", type=float, default=20.0)
    args = ap.parse_args()

    from d4p_seismo.synthetic import make_dataset
    from obspy import UTCDateTime

    work = Path(tempfile.mkdtemp(prefix="d4p-rt-"))
    data = make_dataset(work / "data", stations=args.stations, hours=args.hours, seed=0)
    windows = int(args.hours * 3600 // args.window)
    pairs = args.stations * (args.stations - 1) // 2
    live = work / "live"
    with SeedLinkServer(data.directory, speed=args.speed) as server:
        cmd = d4p("-p", f"seedlink={server.address}", "-p", "network=SY", "-p", "channel=BHZ",
                  "-p", f"window={args.window:g}", "-p", f"inventory={data.directory}/stations.xml",
                  "-p", "stack=linear", "-p", "plot=false", "-p", f"output={live}")
        print("$ " + " ".join(cmd), file=sys.stderr)
        started = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            while (len(server.sent) < len(server.records)
                   or len(list((live / "correlations").glob("*.sac"))) < pairs * (windows - 1)):
                if proc.poll() is not None:
                    sys.exit("the run ended early:\n" + proc.stdout.read())
                time.sleep(0.2)
            time.sleep(2.0)
            proc.send_signal(signal.SIGINT)
            output, _ = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        sent = list(server.sent)
    wall = time.time() - started
    if proc.returncode != 0:
        sys.exit(f"the run failed ({proc.returncode}):\n{output}")

    start = data.starttime.timestamp
    lags = []
    for k in range(windows):
        end = start + (k + 1) * args.window
        last = {}
        for t, record in sent:  # in order: the first record of each station reaching `end`
            if record.end >= end - 1e-6 and record.station not in last:
                last[record.station] = t
        stamp = UTCDateTime(end - args.window).strftime("%Y%m%dT%H%M%S")
        files = list((live / "correlations").glob(f"*_{stamp}.sac"))
        written = max(f.stat().st_mtime for f in files)
        lags.append((k, len(files), written - max(last.values())))

    files_out = work / "files"
    cmd = d4p("-p", f"data={data.directory}", "-p", f"window={args.window:g}", "-p", "plot=false",
              "-p", f"output={files_out}")
    print("$ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, capture_output=True)
    import obspy

    got, want = rows(live / "summary.csv"), rows(files_out / "summary.csv")
    equal = sum(np.array_equal(obspy.read(r["file"])[0].data, obspy.read(want[key]["file"])[0].data)
                for key, r in got.items() if key in want)

    per_window = args.window / args.speed
    print(f"### Real-time xcorr from SeedLink: {args.stations} stations × {args.hours:g} h at 20 Hz, "
          f"{args.window:g} s windows, served {args.speed:g}× real time, multi -n 2 (issue 15)\n")
    print("| window | correlations | lag: last sample arrived → correlations written (wall s) |")
    print("| ---: | ---: | ---: |")
    for k, n, lag in lags:
        note = " (written at the stop)" if k == windows - 1 else ""
        print(f"| {k} | {n} | {lag:.1f}{note} |")
    steady = [lag for k, _, lag in lags if k < windows - 1]
    print()
    print("| target | measured | wanted | met |")
    print("| --- | ---: | --- | --- |")
    print(f"| largest lag (windows closed by the stream) | {max(steady):.1f} s | < one window "
          f"({args.window:g} s) | {'yes' if max(steady) < args.window else '**no**'} |")
    print(f"| largest lag vs the time a window takes to arrive at {args.speed:g}× | "
          f"{max(steady):.1f} s | < {per_window:g} s | "
          f"{'yes' if max(steady) < per_window else '**no**'} |")
    print(f"| correlations equal to the file workflow's | {equal}/{len(want)} | all "
          f"({pairs * windows}) | {'yes' if equal == len(want) == pairs * windows else '**no**'} |")
    print(f"\nWhole run {wall:.0f} s of wall time; stream time {args.hours * 3600:g} s.")


if __name__ == "__main__":
    main()
