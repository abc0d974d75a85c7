"""Sentiment scoring: GenericPE ports declared with _add_input/_add_output,
self.write with keyword metadata, self.log, a group-by tally that writes in
postprocess and a 'global' top-3 PE."""

from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph

TEXTS = [
    "good great day", "bad awful rain", "good news and good food",
    "terrible bad traffic", "great great show", "fine day",
]
LEXICON = {"good": 2, "great": 3, "bad": -2, "awful": -3, "terrible": -3, "fine": 1}


class ReadTexts(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_output("output")

    def _process(self, inputs):
        for i, text in enumerate(TEXTS):
            self.write("output", (i, text), metadata={"source": "inline", "line": i})


class Score(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input")
        self._add_output("output")
        self._add_output("neutral")

    def _process(self, inputs):
        doc, text = inputs["input"]
        words = text.split()
        score = sum(LEXICON.get(w, 0) for w in words)
        if score == 0:
            self.write("neutral", doc, quality="none")
            return None
        label = "pos" if score > 0 else "neg"
        return {"output": [label, doc, score]}


class Tally(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping=[0])
        self._add_output("output")
        self.totals = {}

    def _process(self, inputs):
        label, doc, score = inputs["input"]
        self.totals.setdefault(label, []).append(score)

    def _postprocess(self):
        for label, scores in sorted(self.totals.items()):
            self.log(f"{label}: {len(scores)} documents")
            self.write("output", [label, len(scores), sum(scores)])


class Top(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.rows = []

    def _process(self, inputs):
        self.rows.append(inputs["input"])

    def _postprocess(self):
        self.write("output", sorted(self.rows, key=lambda r: -abs(r[2])))


def build(iterations=1):
    read, score, tally, top = ReadTexts(), Score(), Tally(), Top()
    score.numprocesses = 2
    tally.numprocesses = 2
    graph = WorkflowGraph()
    graph.connect(read, "output", score, "input")
    graph.connect(score, "output", tally, "input")
    graph.connect(tally, "output", top, "input")
    return graph, {read: iterations}


graph, _ = build()
