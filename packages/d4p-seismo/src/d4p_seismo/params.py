"""The parameters of the ``xcorr`` and ``misfit`` workflows and their
defaults, in a module light enough to be imported whenever d4p looks for
plugins (the builders in :mod:`d4p_seismo.workflows` import ObsPy)."""

from __future__ import annotations

from typing import Any

XCORR_DEFAULTS: dict[str, Any] = {
    "stations": 50,
    "hours": 1.0,
    "rate": 20.0,
    "velocity": 3.0,
    "seed": 0,
    "data": "",
    "inventory": "",
    "pattern": "*.mseed",
    "starttime": "",
    "fdsn": "",
    "seedlink": "",
    "lateness": 60.0,
    "network": "*",
    "station": "*",
    "location": "*",
    "channel": "",
    "components": "same",
    "output": "d4p-xcorr-results",
    "target_rate": 10.0,
    "freqmin": 0.1,
    "freqmax": 1.0,
    "normalisation": "onebit",
    "whiten": True,
    "max_lag": 60.0,
    "gaps": "zero",
    "max_gap": 0.5,
    "window": 0.0,
    "overlap": 0.0,
    "stack": "",
    "symmetric": False,
    "format": "sac",
    "instances": 0,
    "plot": True,
    "on_error": "raise",
}
"""Parameters of ``xcorr`` (``d4p run xcorr -p NAME=VALUE``).

``stations``/``hours``/``rate``/``velocity``/``seed`` describe the synthetic
data made when ``data`` is empty (written to ``<output>/data`` and reused while
the parameters stay the same). ``data`` is a directory of waveform files
(``pattern``) with ``inventory`` (default ``<data>/stations.xml``).
``fdsn`` (a provider name ObsPy knows such as ``GEOFON``, or a base URL)
downloads the data instead, from an FDSN web service: the channels matching
``network``/``station``/``location``/``channel`` (wildcards and comma lists),
in the window from ``starttime`` (then required) for ``hours``; their
StationXML is fetched once into ``<output>/stations.xml``. The same codes
select the traces of files; ``channel`` empty means ``BHZ`` online and every
channel in files. ``components="same"`` correlates only channels of the same
component (Z with Z, ...), ``"all"`` every channel with every other.
``starttime`` (ISO) and ``hours`` cut every station to one window (the
synthetic data set's own window by default). Preprocessing decimates to
``target_rate`` Hz (0: keep the rate), filters and whitens between
``freqmin`` and ``freqmax`` Hz, normalises with ``normalisation`` (``onebit``,
``ram`` or ``none``); correlations keep lags up to ``max_lag`` s.
Gaps in the data are zeroed after filtering (edges tapered) and a pair is
normalised over the samples both stations recorded; a station missing more
than ``max_gap`` of the window fails the run (``gaps="zero"``, or is left out
with ``on_error="skip"``) or is rejected and listed in ``rejected.csv``
(``gaps="reject"``). ``window`` > 0 (s) cuts the time window into windows
of that length overlapping by ``overlap`` (a fraction), correlated one by
one; ``stack`` (``linear`` or ``pws``) stacks each pair over them and over
earlier runs into the same ``output`` (incremental, ``<output>/stacks``);
``symmetric`` writes the mean of the causal and acausal sides; ``format`` is
``sac``, ``asdf`` (one ``correlations.h5``) or ``sac,asdf``.
``seedlink`` (``HOST:PORT``) reads the channels matching the codes from a
SeedLink server in real time instead, forever (until stopped: Ctrl-C,
``--stop-after``), cut into windows of ``window`` s on the stream's own
timestamps, each written once the stream has passed its end by
``lateness`` s; it needs ``inventory``.
``instances`` is the number of instances of each parallel PE (0: one per
CPU). ``on_error="skip"`` leaves bad stations out with a warning instead of
failing.
"""

MISFIT_DEFAULTS: dict[str, Any] = {
    "stations": 3,
    "seed": 0,
    "time_shift": 2.3,
    "amplitude_ratio": 1.25,
    "observed": "",
    "synthetic": "",
    "output": "d4p-misfit-results",
    "min_period": 15.0,
    "max_period": 50.0,
    "taper": 0.1,
    "resample": False,
    "channel_map": "",
    "location": "*",
    "channel": "*",
    "event": "",
    "inventory": "",
    "response": "",
    "tf": False,
    "instances": 0,
    "on_error": "raise",
}
"""Parameters of ``misfit``. With ``observed``/``synthetic`` empty, synthetic
event seismograms are made (``stations`` stations × 3 components) where the
observed is the synthetic delayed by ``time_shift`` s and scaled by
``amplitude_ratio``, and written under ``<output>/data``. Observed and
synthetic traces are matched by network, station and component
(``channel_map``, ``OBS:SYN,...``, renames observed components or channel
codes first, e.g. ``E:X,N:Y``; with ``inventory`` observed 1/2/3 components
are rotated to Z/N/E first; ``location`` and ``channel`` choose the observed
traces used where a station has two sensors or band codes); both are
detrended, tapered and band-passed to ``[1/max_period, 1/min_period]`` Hz
before pyflex selects windows. ``resample`` interpolates synthetics that are
sampled differently onto the observed samples. ``event`` (QuakeML) and
``inventory`` (StationXML) let pyflex reject windows by travel time and
signal-to-noise ratio. ``response`` (``DISP``, ``VEL`` or ``ACC``) removes
the observed's instrument response with ``inventory`` first. ``taper`` is
the fraction tapered at each end of a window before it is measured. ``tf``
adds the time–frequency misfit of every whole trace (envelope and phase,
Kristekova et al. 2009, observed as reference): its EM and PM in the
summary and ``<station>.<channel>.tf.png``."""

XCORR_HELP: dict[str, str] = {
    "stations": "stations of the synthetic data set (used when data and fdsn are empty)",
    "hours": "length of the time window in hours (synthetic, FDSN or files)",
    "rate": "sampling rate of the synthetic data in Hz",
    "velocity": "wave speed of the synthetic data in km/s (sets the known delays)",
    "seed": "random seed of the synthetic data",
    "data": "folder of waveform files to read instead of synthetic data",
    "inventory": "StationXML of the files (default: <data>/stations.xml)",
    "pattern": "waveform files to read in data (glob)",
    "starttime": "start of the window, ISO time (required with fdsn)",
    "fdsn": "FDSN provider name (e.g. GEOFON) or base URL to download the data from",
    "network": "network codes to select (wildcards, comma lists)",
    "station": "station codes to select (wildcards, comma lists)",
    "location": "location codes to select (wildcards, comma lists)",
    "channel": "channel codes to select (empty: BHZ online, every channel in files)",
    "components": "same (Z with Z, ...) or all (every channel with every other)",
    "output": "results folder: SAC files, summary.csv, record_section.png",
    "target_rate": "decimate to this rate in Hz (0: keep the rate)",
    "freqmin": "low corner of the band-pass and whitening in Hz",
    "freqmax": "high corner of the band-pass and whitening in Hz",
    "normalisation": "time-domain normalisation: onebit, ram or none",
    "whiten": "whiten the spectrum between freqmin and freqmax",
    "max_lag": "largest lag kept in the correlations, in seconds",
    "gaps": "zero (zero gaps, fail past max_gap) or reject (list in rejected.csv)",
    "max_gap": "largest fraction of the window a station may miss",
    "window": "cut the time window into windows of this many seconds (0: one)",
    "overlap": "overlap of consecutive windows, a fraction",
    "stack": "stack each pair over windows and runs: linear or pws (empty: none)",
    "symmetric": "write the mean of the causal and acausal sides",
    "format": "sac, asdf (one correlations.h5) or sac,asdf",
    "instances": "instances of each parallel PE (0: one per CPU)",
    "plot": "draw record_section.png",
    "on_error": "raise (fail the run) or skip (leave bad stations out with a warning)",
}
"""One line per ``xcorr`` parameter, for ``d4p workflows xcorr``."""

MISFIT_HELP: dict[str, str] = {
    "stations": "stations of the synthetic event (3 components each)",
    "seed": "random seed of the synthetic seismograms",
    "time_shift": "delay of the synthetic observed seismograms in seconds",
    "amplitude_ratio": "scale of the synthetic observed seismograms",
    "observed": "observed waveform files (empty: synthetic)",
    "synthetic": "synthetic waveform files (empty: synthetic)",
    "output": "results folder: an image per station and a JSON summary",
    "min_period": "shortest period of the band-pass in seconds",
    "max_period": "longest period of the band-pass in seconds",
    "taper": "fraction tapered at each end of a window before it is measured",
    "resample": "interpolate synthetics sampled differently onto the observed samples",
    "channel_map": "observed:synthetic components or channels to match, e.g. E:X,N:Y",
    "location": "observed location codes to use (wildcards, comma lists, -- for none)",
    "channel": "observed channel codes to use, e.g. BH? where a station also has HH?",
    "event": "QuakeML of the event (lets pyflex reject windows by travel time)",
    "inventory": "StationXML (pyflex's signal-to-noise check, response, rotating 1/2 to N/E)",
    "response": "remove the observed's instrument response first: DISP, VEL or ACC",
    "tf": "also the time-frequency misfit of each trace (EM, PM, <station>.<channel>.tf.png)",
    "instances": "instances of each parallel PE (0: one per CPU)",
    "on_error": "raise (fail the run) or skip (leave bad stations out with a warning)",
}
"""One line per ``misfit`` parameter, for ``d4p workflows misfit``."""
