"""PEs that write files are found by reading their code (a cluster puts the
files on the workers' disks); the warning of a real cluster run is tested in
d4p-spark's test_spark_cluster.py, that of a Storm export in d4p-storm's tests."""

from pathlib import Path

import d4p
import numpy as np
from d4p.plan import make_plan
from d4p.shipping import file_writers


class Report(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("input")

    def _process(self, inputs):
        with open(f"report-{inputs['input']}.txt", "w") as out:
            out.write("x")

    def postprocess(self):
        np.savez("summary.npz", a=1)
        Path("done").write_text("yes")


class Reader(d4p.IterativePE):
    def _process(self, x):
        with open("table.csv") as table, open("other.csv", mode="rb") as other:
            return table.read() + str(other.read()) + str(x.copy())


@d4p.producer
def numbers(n=3):
    yield from range(n)


@d4p.iterative
def appender(x):
    with open("log.txt", "a") as log:
        log.write(str(x))
    return x


def test_writing_calls_are_named_per_pe_and_readers_are_not():
    graph = d4p.WorkflowGraph()
    source, reader, append, report = numbers(), Reader(), appender(), Report()
    graph.connect(source, "output", reader, "input")
    graph.connect(reader, "output", append, "input")
    graph.connect(append, "output", report, "input")
    plan = make_plan(graph, 1, None)
    writes = file_writers(plan)
    assert set(writes) == {append.id, report.id}
    assert writes[append.id] == ["open(..., 'a') in appender()"]
    assert writes[report.id] == ["open(..., 'w') in _process()", "np.savez(...) in postprocess()",
                                 "Path('done').write_text(...) in postprocess()"]
