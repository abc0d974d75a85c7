"""dispel4py's realtime cross-correlation workflow (realtime_xcorr.py), on
small synthetic traces: a GenericPE reads every station's .npy file and
writes each new trace paired with every earlier one, an IterativePE
cross-correlates the pair (numpy), and two ConsumerPEs write their results
to files (one .npy per pair, in a folder per pair) instead of returning
them. build() writes the traces into DATA/ under the working folder.
Run: dispel4py multi xcorr_files.py -n 4."""

import os

import numpy as np
from dispel4py.base import ConsumerPE, IterativePE
from dispel4py.core import GenericPE
from dispel4py.workflow_graph import WorkflowGraph

ROOT_DIR = "./xcorr_output/"
STATIONS = 5


def make_data():
    folder = ROOT_DIR + "DATA/"
    os.makedirs(folder, exist_ok=True)
    for s in range(STATIONS):
        t = np.arange(64, dtype="float64")
        np.save(folder + f"ST{s}.npy", np.sin(t * (s + 1) / 10.0) + 0.1 * s)


def xcorrf(data1, data2, shift):
    n = len(data1)
    spec = np.fft.rfft(data1, 2 * n) * np.conjugate(np.fft.rfft(data2, 2 * n))
    return np.roll(np.fft.irfft(spec, 2 * n), shift)[: 2 * shift + 1]


class Product(GenericPE):
    def __init__(self):
        GenericPE.__init__(self)
        self._add_output("output", tuple_type=["number"])

    def process(self, inputs):
        store = []
        for f in sorted(os.listdir(ROOT_DIR + "DATA/")):
            str1 = np.load(ROOT_DIR + "DATA/" + f)
            index = len(store)
            for i in range(index):
                self.write("output", [i, index, store[i], str1])
            store.append(str1)


class Xcorr(IterativePE):
    def __init__(self):
        IterativePE.__init__(self)

    def _process(self, data):
        return (data[0], data[1], xcorrf(data[2], data[3], 8))


class StoreToFile(ConsumerPE):
    def __init__(self, filename):
        ConsumerPE.__init__(self)
        self.filename = filename
        self.counter = 0

    def _process(self, data):
        directory = ROOT_DIR + "XCORR/" + str(data[0]) + "_" + str(data[1])
        if not os.path.exists(directory):
            os.makedirs(directory)
        np.save(directory + f"/{self.filename}_{data[0]}_{data[1]}.out", data[2])
        self.counter += 1


class Peak(ConsumerPE):
    def __init__(self, filename):
        ConsumerPE.__init__(self)
        self.filename = filename

    def _process(self, data):
        os.makedirs(ROOT_DIR + "XCORR/", exist_ok=True)  # StoreToFile may not have yet
        with open(ROOT_DIR + f"XCORR/{self.filename}_{data[0]}_{data[1]}.peak", "w") as f:
            f.write(f"{int(np.argmax(data[2]))} {float(np.max(data[2])):.4f}\n")


def summary():
    """{file name: rounded sum of its content} of what the run wrote."""
    done = {}
    for folder, _, files in os.walk(ROOT_DIR + "XCORR/"):
        for f in files:
            path = os.path.join(folder, f)
            if f.endswith(".npy"):
                done[os.path.relpath(path, ROOT_DIR)] = round(float(np.load(path).sum()), 4)
            else:
                with open(path) as text:
                    done[os.path.relpath(path, ROOT_DIR)] = text.read().strip()
    return dict(sorted(done.items()))


def build():
    make_data()
    graph = WorkflowGraph()
    product = Product()
    xcorr1 = Xcorr()
    store = StoreToFile("Xcorr")
    peak = Peak("Xcorr")
    graph.connect(product, "output", xcorr1, "input")
    graph.connect(xcorr1, "output", store, "input")
    graph.connect(xcorr1, "output", peak, "input")
    return graph, {product: 1}
