"""Run under ``mpiexec -n R``: ``python mpi_inplace_run.py CASE PROCESSES DIR``
runs a workflow with ``mapping="mpi"`` in place and writes ``DIR/rank-N.json``
per rank: its outputs, or the failure it raised (files, because the lines
that ranks print may interleave)."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import d4p  # noqa: E402
import mpi_workflows  # noqa: E402
from d4p.examples import wordcount  # noqa: E402

case, processes, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
graph, inputs = wordcount(5000, counters=3) if case == "wordcount" else mpi_workflows.failing()
start = time.monotonic()
report = {"rank": int(os.environ["PMI_RANK"]), "primary": d4p.get_mapping("mpi").primary}
try:
    result = d4p.run(graph, inputs, mapping="mpi", processes=processes, timeout=30)
    report["outputs"] = {pe: ports["output"] for pe, ports in result.items()}
    report["units"] = result.summary.units
    code = 0
except d4p.WorkflowFailed as exc:
    report["failed"] = str(exc)
    report["fields"] = [exc.pe, exc.instance, exc.port, exc.data]
    code = 1
report["seconds"] = time.monotonic() - start
with open(os.path.join(folder, f"rank-{report['rank']}.json"), "w") as out:
    json.dump(report, out)
sys.exit(code)
