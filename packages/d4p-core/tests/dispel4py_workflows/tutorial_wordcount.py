"""The training material's WordCount.py: a GenericPE overriding ``_process``
splits lines (logging ``self.id`` and ``self.rank``), an IterativePE writes
``(word, 1)``, and a GenericPE grouped by word writes its ``defaultdict`` of
counts in ``_postprocess``. The text is given as ``[{"input": TEXT}]``.
Run: dispel4py simple tutorial_wordcount.py -d '{"SplitLines": [{"input": "..."}]}'."""

from collections import defaultdict

from dispel4py.base import IterativePE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph


class SplitLines(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")

    def _process(self, inputs):
        self.log(f"SplitLines self.id {self.id}, process.rank {self.rank}")
        for line in inputs["input"].splitlines():
            self.write("output", line)


class SplitWords(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        self.log(f"SplitWords self.id {self.id}, process.rank {self.rank}")
        for word in data.split(" "):
            self.write("output", (word, 1))


class CountWords(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.count = defaultdict(int)

    def _process(self, inputs):
        word, count = inputs["input"]
        self.count[word] += count

    def _postprocess(self):
        self.write("output", self.count)


TEXT = "Hello Hello algo mas World World\nthe World is the world\nHello again"


def build():
    split = SplitLines()
    words = SplitWords()
    count = CountWords()
    graph = WorkflowGraph()
    graph.connect(split, "output", words, "input")
    graph.connect(words, "output", count, "input")
    return graph, {split: [{"input": TEXT}]}


graph, _ = build()
