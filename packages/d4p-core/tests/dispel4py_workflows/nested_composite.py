"""A CompositePE built by a create_graph function with params, containing a
create_iterative_chain composite (a composite inside a composite), with
_map_input/_map_output; two composites of the same class in one graph."""

from dispel4py.base import CompositePE, IterativePE, ProducerPE, create_iterative_chain
from dispel4py.workflow_graph import WorkflowGraph


class Numbers(ProducerPE):
    def __init__(self, n):
        ProducerPE.__init__(self)
        self.n = n

    def _process(self, inputs):
        for i in range(1, self.n + 1):
            self.write("output", i)


class Scale(IterativePE):
    def __init__(self, k):
        IterativePE.__init__(self)
        self.k = k

    def _process(self, data):
        return data * self.k


def inc(x):
    return x + 1


def square(x):
    return x * x


def make_stage(graph, k, offset):
    scale = Scale(k)
    chain = create_iterative_chain([inc, (add_offset, {"offset": offset}), square])
    graph.connect(scale, "output", chain, "input")
    graph._map_input("input", scale, "input")
    graph._map_output("output", chain, "output")


def add_offset(x, offset):
    return x + offset


class Stage(CompositePE):
    def __init__(self, k, offset):
        CompositePE.__init__(self, make_stage, {"k": k, "offset": offset})


def build():
    nums = Numbers(4)
    first = Stage(2, 0)
    second = Stage(1, -1)
    graph = WorkflowGraph()
    graph.connect(nums, "output", first, "input")
    graph.connect(nums, "output", second, "input")
    return graph, {nums: 1}


graph, _ = build()
