"""dispel4py's examples/wordcount.py: a root IterativePE reads the text file
named in its input data, a composite counts (partial counts, then a 'global'
merge declared by re-adding the input port), Print logs every count.
Run: dispel4py simple wordcount_file.py -d '{"SplitTextFile": [{"input": "words.txt"}]}'"""

import os
from collections import defaultdict

from dispel4py.base import CompositePE, ConsumerPE, IterativePE
from dispel4py.workflow_graph import WorkflowGraph

HERE = os.path.dirname(os.path.abspath(__file__))


class SplitTextFile(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, filename):
        with open(os.path.join(HERE, filename)) as f:
            for line in f:
                self.write("output", line.strip())


class WordCount(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, line):
        for w in line.split(" "):
            self.write("output", (w, 1))


class CountByGroup(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)
        self.count = defaultdict(int)

    def _process(self, data):
        self.count[data[0]] += data[1]

    def _postprocess(self):
        for (word, count) in sorted(self.count.items()):
            self.write("output", (word, count))


class Print(ConsumerPE):
    def __init__(self):
        ConsumerPE.__init__(self)

    def _process(self, data):
        self.log("{}: {}".format(*data))


def count_by_group():
    composite = CompositePE()
    count = CountByGroup()
    count.numprocesses = 2
    merge = CountByGroup()
    merge._add_input("input", grouping="global")
    composite.connect(count, "output", merge, "input")
    composite._map_input("input", count, "input")
    composite._map_output("output", merge, "output")
    return composite


def build():
    graph = WorkflowGraph()
    textfile = SplitTextFile()
    wordcount = WordCount()
    count = count_by_group()
    graph.connect(textfile, "output", wordcount, "input")
    graph.connect(wordcount, "output", count, "input")
    return graph, {textfile: [{"input": "words.txt"}]}


graph = WorkflowGraph()
textfile = SplitTextFile()
wordcount = WordCount()
count = count_by_group()
result = Print()
graph.connect(textfile, "output", wordcount, "input")
graph.connect(wordcount, "output", count, "input")
graph.connect(count, "output", result, "input")
