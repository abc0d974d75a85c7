"""The training material's Mycompression_solution.py: an IterativePE and a
ConsumerPE that override ``process`` itself (reading ``data['input']``)
instead of ``_process``, and a ProducerPE with a constructor parameter. The
strings are made from a counter instead of random (and encoded, as zlib
needs bytes on Python 3), so that the results can be compared.
Run: dispel4py simple compression.py -i 4."""

import zlib

from dispel4py.base import ConsumerPE, IterativePE, ProducerPE
from dispel4py.workflow_graph import WorkflowGraph


class StringProducer(ProducerPE):
    def __init__(self, length):
        ProducerPE.__init__(self)
        self.length = length
        self.n = 0

    def _process(self, inputs):
        self.n += 1
        return (str(self.n) * self.length)[: self.length]


class ZlibCompression(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def process(self, data):
        original_string = data["input"]
        compress_string = zlib.compress(original_string.encode())
        self.write("output", [original_string, compress_string])


class ZlibDeCompression(ConsumerPE):
    def __init__(self):
        ConsumerPE.__init__(self)
        self._add_output("output")

    def process(self, data):
        original_string = data["input"][0]
        decompress_string = zlib.decompress(data["input"][1]).decode()
        self.log(f"original {original_string} and decompress_string {decompress_string}")
        self.write("output", [original_string[:3], original_string == decompress_string,
                              len(data["input"][1])])


def build(iterations=4):
    producer = StringProducer(100)
    zlibcompression = ZlibCompression()
    zlibdecompression = ZlibDeCompression()
    graph = WorkflowGraph()
    graph.connect(producer, "output", zlibcompression, "input")
    graph.connect(zlibcompression, "output", zlibdecompression, "input")
    return graph, {producer: iterations}


graph, _ = build()
