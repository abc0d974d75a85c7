"""``dispel4py.new.monitoring``: wrap a PE to log how long it takes.

``ProcessTimingPE(pe)`` logs the average time of ``process`` at the end of
the stream; ``ReadTimingWrapper(pe)`` the average time between two data
units. A wrapper of one's own subclasses ``MonitoringWrapper``, overrides
``process`` (calling ``self.baseObject.process``) and ``_postprocess`` (run
after the wrapped PE's ``postprocess``), as in dispel4py. The wrapper takes the PE's place in the graph (its name, ports,
instance count and types). For recorded timings of every PE, use d4p's monitoring
(``d4p run --monitor``) instead.
"""

from __future__ import annotations

import time

from ..core import GenericPE


class MonitoringWrapper(GenericPE):
    """Wraps ``baseObject`` in its place in the graph."""

    def __init__(self, baseObject):  # noqa: N803 (dispel4py API)
        GenericPE.__init__(self)
        self.baseObject = baseObject
        self.name = baseObject.name
        self.numprocesses = baseObject.numprocesses
        self.inputconnections = baseObject.inputconnections
        self.outputconnections = baseObject.outputconnections

    def preprocess(self):
        base = self.baseObject
        base.id, base.rank, base.instance = self.id, self.rank, self.instance
        base.write = base._write = self.write
        base.preprocess()

    def process(self, inputs):
        return self.baseObject.process(inputs)

    def postprocess(self):
        self.baseObject.postprocess()
        self._postprocess()

    def setInputTypes(self, types):  # noqa: N802 (dispel4py API)
        """The wrapped PE's (``graph.propagate_types()`` reaches it)."""
        self.baseObject.setInputTypes(types)

    def getOutputTypes(self):  # noqa: N802 (dispel4py API)
        return self.baseObject.getOutputTypes()


class ProcessTimingPE(MonitoringWrapper):
    """Logs ``Average processing time: SECONDS`` after the last data unit."""

    def __init__(self, baseObject):  # noqa: N803 (dispel4py API)
        MonitoringWrapper.__init__(self, baseObject)
        self.times_total = 0.0
        self.times_count = 0

    def process(self, inputs):
        start = time.perf_counter()
        try:
            return self.baseObject.process(inputs)
        finally:
            self.times_total += time.perf_counter() - start
            self.times_count += 1

    def _postprocess(self):
        if self.times_count:
            self.log(f"Average processing time: {self.times_total / self.times_count}")


class ReadTimingWrapper(MonitoringWrapper):
    """Logs ``Average read rate : SECONDS`` (the mean time between two data
    units) after the last data unit."""

    def __init__(self, baseObject):  # noqa: N803 (dispel4py API)
        MonitoringWrapper.__init__(self, baseObject)
        self.readtime = None
        self.readrate: list[float] = []

    def process(self, inputs):
        now = time.perf_counter()
        if self.readtime is not None:
            self.readrate.append(now - self.readtime)
        self.readtime = now
        return self.baseObject.process(inputs)

    def _postprocess(self):
        if self.readrate:
            self.log(f"Average read rate : {sum(self.readrate) / len(self.readrate)}")


class Timer:
    """``with Timer() as t: ...`` then ``t.secs``."""

    def __init__(self, verbose=False):
        self.verbose = verbose

    def __enter__(self):
        self.start = time.time()
        return self

    def __exit__(self, *args):
        self.end = time.time()
        self.secs = self.end - self.start
