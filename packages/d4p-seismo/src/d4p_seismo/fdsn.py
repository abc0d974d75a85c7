"""Online data: channels, waveforms and the inventory from an FDSN web service.

The online counterpart of :class:`~d4p_seismo.pes.StationFiles` →
:class:`~d4p_seismo.pes.ReadTrace`, built on ObsPy's
:class:`obspy.clients.fdsn.Client`:

* :class:`FDSNChannels` (a producer) asks the station service which channels
  match the network/station/location/channel patterns in the window and writes
  their ids (``NET.STA.LOC.CHA``), sorted;
* :class:`FDSNWaveforms` downloads one channel's waveform for the window and
  outputs traces cut exactly as :class:`~d4p_seismo.pes.ReadTrace` cuts files
  (same window, same coverage rule, coordinates attached), so every PE
  downstream works unchanged;
* :func:`fetch_inventory` saves the channels' StationXML (with responses) once,
  for :class:`~d4p_seismo.pes.RemoveResponse`.

A provider is a name ObsPy knows (``"GEOFON"``, ``"EARTHSCOPE"``, …) or a base
URL (``"http://127.0.0.1:8080"``). Every failure (unknown provider, no service
answering, no data, an HTTP error) is a :class:`~d4p_seismo.errors.SeismoDataError`
naming the provider, the channel(s) and the window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from d4p import ProducerPE
from obspy import Inventory, Trace, UTCDateTime
from obspy.clients.fdsn import Client
from obspy.clients.fdsn.header import URL_MAPPINGS, FDSNException, FDSNNoDataException

from d4p_seismo.errors import MissingDataError, SeismoDataError
from d4p_seismo.pes import ReadTrace

DEFAULT_TIMEOUT = 120.0
"""Seconds to wait for the first byte of each answer (ObsPy's default)."""


def connect(provider: str, timeout: float = DEFAULT_TIMEOUT) -> Client:
    """An ObsPy FDSN client for ``provider`` (a name ObsPy knows or a base URL).

    Raises :class:`SeismoDataError` for an unknown name, a malformed URL or an
    address where no FDSN service answers.
    """
    try:
        return Client(provider, timeout=timeout)
    except ValueError as exc:  # unknown shortcut or malformed URL
        what = "is not a provider name ObsPy knows" if provider.isalpha() else "is not a valid URL"
        raise SeismoDataError(
            f"FDSN provider {provider!r} {what}; give one of {', '.join(sorted(URL_MAPPINGS))} "
            "or a base URL such as https://geofon.gfz.de"
        ) from exc
    except FDSNException as exc:
        raise SeismoDataError(
            f"FDSN provider {provider!r}: no FDSN web service answers there ({_reason(exc)}); "
            "check the address and the network connection"
        ) from exc


def channel_ids(inventory: Inventory) -> list[str]:
    """The ids (``NET.STA.LOC.CHA``) of every channel in ``inventory``, sorted, each once."""
    return sorted({
        f"{net.code}.{sta.code}.{cha.location_code}.{cha.code}"
        for net in inventory for sta in net for cha in sta
    })


def get_inventory(
    client: Client,
    provider: str,
    starttime: UTCDateTime,
    endtime: UTCDateTime,
    network: str = "*",
    station: str = "*",
    location: str = "*",
    channel: str = "*",
    level: str = "response",
) -> Inventory:
    """The station service's inventory of the matching channels operating in the window.

    Patterns take ``*``/``?`` wildcards and comma-separated lists, as in
    :meth:`obspy.clients.fdsn.Client.get_stations`.
    """
    selection = f"{network}.{station}.{location}.{channel}"
    try:
        return client.get_stations(
            network=network, station=station, location=location, channel=channel,
            starttime=starttime, endtime=endtime, level=level,
        )
    except FDSNNoDataException as exc:
        raise MissingDataError(
            f"FDSN provider {provider!r} has no channels matching {selection} between "
            f"{starttime} and {endtime}; check the codes and the window"
        ) from exc
    except FDSNException as exc:
        raise SeismoDataError(
            f"FDSN provider {provider!r}: the station query for {selection} between "
            f"{starttime} and {endtime} failed ({_reason(exc)})"
        ) from exc


def fetch_inventory(
    provider: str,
    path: str | Path,
    starttime: UTCDateTime | str,
    endtime: UTCDateTime | str,
    network: str = "*",
    station: str = "*",
    location: str = "*",
    channel: str = "*",
    timeout: float = DEFAULT_TIMEOUT,
) -> Inventory:
    """Download the StationXML (with responses) of the matching channels once and
    save it to ``path``, for :class:`~d4p_seismo.pes.RemoveResponse` and
    :class:`FDSNWaveforms`; returns the inventory."""
    client = connect(provider, timeout)
    inventory = get_inventory(
        client, provider, UTCDateTime(starttime), UTCDateTime(endtime),
        network, station, location, channel, level="response",
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inventory.write(str(path), format="STATIONXML")
    return inventory


class FDSNChannels(ProducerPE):
    """Writes the id (``NET.STA.LOC.CHA``) of every channel of ``provider`` that
    matches the patterns and operates in ``[starttime, endtime)``, sorted.

    The channel list comes from the station service at level ``"channel"``
    (responses are not needed to list channels; :func:`fetch_inventory` gets
    them once for the whole run).
    """

    def __init__(
        self,
        provider: str,
        starttime: UTCDateTime | str,
        endtime: UTCDateTime | str,
        network: str = "*",
        station: str = "*",
        location: str = "*",
        channel: str = "*",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__()
        self.provider = provider
        self.starttime = UTCDateTime(starttime)
        self.endtime = UTCDateTime(endtime)
        self.codes = (network, station, location, channel)
        self.timeout = timeout

    def _process(self, inputs: Any) -> None:
        client = connect(self.provider, self.timeout)
        inventory = get_inventory(
            client, self.provider, self.starttime, self.endtime, *self.codes, level="channel"
        )
        for sid in channel_ids(inventory):
            self.write(self.OUTPUT_NAME, sid)


class FDSNWaveforms(ReadTrace):
    """Downloads one channel's waveform (input: its id ``NET.STA.LOC.CHA``) for
    ``[starttime, endtime)`` and outputs its traces merged, cut and padded
    exactly like :class:`~d4p_seismo.pes.ReadTrace` (which see, also for
    ``min_coverage``, ``gaps``, ``window``, ``overlap``, ``inventory`` and
    ``on_error``).

    A channel without data in the window (the service answers "no data"), a
    failed download or data covering too little of the window fail the run
    naming the provider, the channel and the window, or with
    ``on_error="skip"`` leave the channel out with a warning.
    """

    def __init__(
        self,
        provider: str,
        inventory: str | Path | Inventory | None,
        starttime: UTCDateTime | str,
        endtime: UTCDateTime | str,
        min_coverage: float = 0.5,
        on_error: str = "raise",
        timeout: float = DEFAULT_TIMEOUT,
        gaps: str = "zero",
        window: float = 0.0,
        overlap: float = 0.0,
    ) -> None:
        super().__init__(
            inventory, starttime, endtime, min_coverage, on_error, gaps, window=window,
            overlap=overlap,
        )
        self.provider = provider
        self.timeout = timeout
        self._client: Client | None = None

    def preprocess(self) -> None:
        super().preprocess()
        self._client = connect(self.provider, self.timeout)

    def read(self, channel_id: str) -> list[Trace]:
        """The traces of ``channel_id`` in the window, ready for preprocessing
        (raises :class:`SeismoDataError`)."""
        codes = channel_id.split(".")
        if len(codes) != 4:
            raise SeismoDataError(f"{channel_id!r}: not a channel id NET.STA.LOC.CHA")
        if self._client is None:
            self._client = connect(self.provider, self.timeout)
        window = f"{self.starttime} - {self.endtime}"
        try:
            stream = self._client.get_waveforms(*codes, self.starttime, self.endtime)
        except FDSNNoDataException as exc:
            raise MissingDataError(
                f"{channel_id}: FDSN provider {self.provider!r} has no data in the window "
                f"{window}; choose another window or leave the channel out"
            ) from exc
        except FDSNException as exc:
            raise SeismoDataError(
                f"{channel_id}: downloading {window} from FDSN provider {self.provider!r} "
                f"failed ({_reason(exc)})"
            ) from exc
        if not stream:
            raise MissingDataError(
                f"{channel_id}: FDSN provider {self.provider!r} sent no traces for the "
                f"window {window}"
            )
        return self.prepare(stream, f"FDSN {self.provider}")


def _reason(exc: BaseException) -> str:
    """The first line of an ObsPy FDSN error (its server detail can run to pages)."""
    text = str(exc.args[0]) if exc.args else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
