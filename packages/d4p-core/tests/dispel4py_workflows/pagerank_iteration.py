"""One PageRank iteration as dispel4py users wrote it (PageRank.py of the
dispel4py Storm/MPI comparisons): a reader with a declared input given by -d
writes edges and initial ranks; Stage1 (3 instances, group-by source node)
and Stage2 (2 instances, group-by node) collect in process and write
everything in postprocess; a 'global' checker merges the per-instance rank
dicts; a 'global' timer gets units from two different PEs.
Run: dispel4py multi pagerank_iteration.py -n 8 -d '{"InitialRead": [{"input": 1}]}'"""

from collections import defaultdict

from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph

EDGES = [(0, 1), (0, 2), (1, 2), (2, 0), (3, 2), (3, 4), (4, 0), (4, 3), (5, 4)]
NODES = 6
MIXING = 0.85
RANDOM = (1.0 - MIXING) / NODES


class InitialRead(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")
        self._add_output("time")

    def _process(self, data):
        it = data["input"]
        self.write("time", ["start", it])
        for src, dst in EDGES:
            self.write("output", [src, str(dst), it])
        for i in range(NODES):
            self.write("output", [i, "v" + str(1.0 / NODES), it])


class Stage1(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.dst_node_list = defaultdict(list)
        self.cur_rank = defaultdict(float)
        self.it = 1

    def _process(self, data):
        src, value, self.it = data["input"]
        if value.startswith("v"):
            self.cur_rank[src] = float(value[1:])
        else:
            self.dst_node_list[src].append(int(value))

    def postprocess(self):
        for src in sorted(self.cur_rank):
            self.write("output", [src, "s" + str(self.cur_rank[src]), self.it])
            share = self.cur_rank[src] / len(self.dst_node_list[src])
            for dst in self.dst_node_list[src]:
                self.write("output", [dst, "v" + str(share), self.it])


class Stage2(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.previous_rank = defaultdict(float)
        self.next_rank = defaultdict(float)
        self.it = 1

    def _process(self, data):
        node, value, self.it = data["input"]
        if value.startswith("v"):
            self.next_rank[node] += float(value[1:])
        else:
            self.previous_rank[node] = float(value[1:])

    def postprocess(self):
        for node in self.previous_rank:
            self.next_rank[node] = self.next_rank[node] * MIXING + RANDOM
        self.write("output", [self.previous_rank, self.next_rank, self.it])


class Check(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping="global")
        self._add_output("time")
        self._add_output("ranks")
        self.next_rank = [0.0] * NODES
        self.changed = 0
        self.it = 1

    def _process(self, data):
        previous_rank, next_rank, self.it = data["input"]
        for node in previous_rank:
            self.next_rank[node] = next_rank[node]
            if abs(previous_rank[node] - next_rank[node]) > 0.01:
                self.changed += 1

    def postprocess(self):
        self.write("ranks", [round(r, 4) for r in self.next_rank])
        self.write("time", ["end", self.it, self.changed])


class Timer(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("time", grouping="global")
        self._add_output("output")
        self.events = []

    def _process(self, data):
        self.events.append(data["time"])

    def postprocess(self):
        self.write("output", sorted(self.events, key=str))


def build():
    reader, stage1, stage2, checker, timer = InitialRead(), Stage1(), Stage2(), Check(), Timer()
    stage1.numprocesses = 3
    stage2.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(reader, "output", stage1, "input")
    graph.connect(reader, "time", timer, "time")
    graph.connect(stage1, "output", stage2, "input")
    graph.connect(stage2, "output", checker, "input")
    graph.connect(checker, "time", timer, "time")
    return graph, {reader: [{"input": 1}]}


graph, _ = build()
