"""dispel4py's internal-extinction workflow (int_ext_graph.py) with the
VizieR query replaced by a local table: the root PE declares no input yet is
given ``[{"input": FILE}]`` with -d, its name is set to ``read`` before
connecting, ``filt.columns`` is set on the PE after construction, and a PE
logs and drops the galaxies it cannot compute.
Run: dispel4py multi internal_extinction.py -n 4 -s
-d '{"read": [{"input": "coordinates.txt"}]}'."""

import math

from dispel4py.base import IterativePE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph

type_dict = {"E": -5, "E-S0": -3, "S0": -2, "S0a": 0, "Sa": 1, "Sab": 2, "Sb": 3, "Sbc": 4,
             "Sc": 6, "Scd": 7, "Sd": 8, "Sm": 9, "SBa": 1, "SBab": 2, "SBb": 3, "SBbc": 4,
             "SBc": 6, "SBcd": 7, "SBd": 8, "SBm": 9}

C = 0.04

CATALOGUE = {("16.48295", "4.0905"): {"MType": "Sb", "logR25": 0.11},
             ("24.8595", "14.5519"): {"MType": "E", "logR25": 0.04},
             ("31.15", "-2.6"): {"MType": "SBc", "logR25": 0.35},
             ("40.0", "1.5"): {"MType": None, "logR25": 0.2}}


def internal_extinction(mtype, logr25):
    t = float(type_dict[mtype]) if mtype in type_dict else -10.0
    k = min(0.754 * 10 ** (-0.2 * t), 1.0)
    k2 = 0.12 - 0.007 * t if t < 0 else 0.094
    r = 10.0 ** logr25
    tmp = 2 * C * (1 + 0.2 / k2) - 1
    return t, -2.5 * math.log10(k + (1 - k) * r ** tmp)


class ReadRaDec(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_output("output")

    def _process(self, inputs):
        file = inputs["input"]
        self.log(f"Reading file {file}")
        with open(file) as f:
            count = 0
            for line in f:
                count += 1
                ra, dec = line.strip().split(",")
                self.write("output", [count, ra, dec, 0.001])


class GetVOTable(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        count, ra, dec, sr = data
        self.log(f"reading VOTable RA={ra}, DEC={dec}")
        return [count, ra, dec, CATALOGUE.get((ra, dec), {})]


class FilterColumns(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        count, ra, dec, table = data
        results = [count, ra, dec]
        for c in self.columns:
            results.append(table.get(c))
        return results


class InternalExtinction(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        count, ra, dec = data[0:3]
        mtype, logr25 = data[3], data[4]
        try:
            t, ai = internal_extinction(mtype, logr25)
            return [count, ra, dec, mtype, logr25, t, round(ai, 4)]
        except TypeError:
            self.log(f"KIG{count}: failed to calculate internal extinction")


graph = WorkflowGraph()
read = ReadRaDec()
read.name = "read"
votab = GetVOTable()
filt = FilterColumns()
filt.columns = ["MType", "logR25"]
intext = InternalExtinction()
graph.connect(read, "output", votab, "input")
graph.connect(votab, "output", filt, "input")
graph.connect(filt, "output", intext, "input")


def build():
    return graph, {read: [{"input": "coordinates.txt"}]}
