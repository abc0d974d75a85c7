"""Processing elements: ports, the dispel4py classes, and PEs made from
functions with @d4p.producer / @d4p.iterative / @d4p.consumer."""

from __future__ import annotations

import functools
import itertools
import pickle

import d4p
import pytest
from d4p.examples import NumberProducer
from d4p.pe import GROUPING, NAME, TYPE
from d4p.testing.workflows import Double, Sink


class Pair(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("left", grouping=[0], tuple_type=tuple)
        self._add_input("right")
        self._add_output("output", tuple_type=tuple)
        self._add_output("count")
        self.seen = 0

    def process(self, inputs):
        self.seen += 1
        for port, data in inputs.items():
            self.write("output", (port, data))
            self.write("output", (port, data, "again"))
        return {"count": self.seen}


def test_ports_keep_name_grouping_and_type():
    pe = Pair()
    assert pe.inputconnections["left"] == {NAME: "left", GROUPING: [0], TYPE: tuple}
    assert pe.inputconnections["right"] == {NAME: "right"}
    assert pe.outputconnections["output"] == {NAME: "output", TYPE: tuple}
    assert pe.getOutputTypes() == {"output": tuple, "count": None}
    assert pe.numprocesses == 1 and pe.name == pe.id == "Pair"


def test_write_any_number_of_times_and_return_a_dict():
    graph = d4p.WorkflowGraph()
    src, pair = NumberProducer(3), Pair()
    graph.connect(src, "output", pair, "left")
    result = d4p.run(graph)
    assert sorted(result[pair.id]["output"]) == [
        ("left", 0), ("left", 0, "again"), ("left", 1), ("left", 1, "again"),
        ("left", 2), ("left", 2, "again")]
    assert result[pair.id]["count"] == [1, 2, 3]


class WritesTo(d4p.IterativePE):
    """Writes each unit to the output named ``port``, declared or not."""

    def __init__(self, port):
        super().__init__()
        self.port = port

    def _process(self, data):
        self.write(self.port, data)


@pytest.mark.parametrize(("port", "said"), [
    ("outptu", " (did you mean 'output'?); its outputs are: 'output'."),
    ("rejected", "; its outputs are: 'output'. Declare it with self._add_output('rejected')."),
])
def test_write_to_unknown_output_names_pe_port_and_fix(port, said):
    graph = d4p.WorkflowGraph()
    writer = WritesTo(port)
    graph.connect(NumberProducer(1), "output", writer, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph)
    assert str(info.value) == (  # the PE named once
        f"PE {writer.id!r} (WritesTo) wrote to unknown output {port!r}{said}")


def test_write_takes_dispel4py_metadata_keyword_and_ignores_it():
    """dispel4py's ``write(name, data, **kwargs)`` ignored the keywords (its
    provenance recorder read them); ported PEs pass ``metadata``."""
    class Tagged(d4p.IterativePE):
        def _process(self, data):
            self.write("output", data, metadata={"source": "test"})

    graph = d4p.WorkflowGraph()
    tagged = Tagged()
    graph.connect(NumberProducer(3), "output", tagged, "input")
    assert d4p.run(graph)[tagged.id]["output"] == [0, 1, 2]


def test_write_outside_a_run_is_refused():
    pe = Pair()
    with pytest.raises(d4p.GraphError, match="wrote to output 'output' outside of a run"):
        pe.write("output", 1)


def test_pe_that_forgot_super_init_is_refused_when_added():
    class Forgetful(d4p.GenericPE):
        def __init__(self):
            pass

    with pytest.raises(d4p.GraphError, match=r"Forgetful was not initialised: call "
                                             r"super\(\).__init__\(\)"):
        d4p.WorkflowGraph().add(Forgetful())


def test_iterative_none_writes_nothing():
    class Evens(d4p.IterativePE):
        def _process(self, data):
            return data if data % 2 == 0 else None

    graph = d4p.WorkflowGraph()
    evens = Evens()
    graph.connect(NumberProducer(7), "output", evens, "input")
    assert d4p.run(graph)[evens.id]["output"] == [0, 2, 4, 6]


def test_consumer_receives_every_unit_and_producer_runs_per_iteration():
    class Tick(d4p.ProducerPE):
        def __init__(self):
            super().__init__()
            self.n = 0

        def _process(self, inputs):
            self.n += 1
            return self.n * 10

    class Keep(d4p.ConsumerPE):
        kept: list = []  # a class attribute: shared by every instance's copy

        def _process(self, data):
            self.kept.append(data)

    graph = d4p.WorkflowGraph()
    tick, keep = Tick(), Keep()
    graph.connect(tick, "output", keep, "input")
    result = d4p.run(graph, {tick: 4})
    assert result == {}  # a consumer has no outputs
    assert Keep.kept == [10, 20, 30, 40]
    assert result.summary.units == {tick.id: 4, keep.id: 4}


def test_simple_function_pe_names_itself_after_the_function():
    def scale(x, factor=1):
        return x * factor

    pe = d4p.SimpleFunctionPE(scale, {"factor": 3})
    assert pe.name == "PE_scale"
    graph = d4p.WorkflowGraph()
    graph.connect(NumberProducer(3), "output", pe, "input")
    assert d4p.run(graph)[pe.id]["output"] == [0, 3, 6]


def _add(amount, x):
    return x + amount


def _twice(x, n):
    yield from [x] * n


class _Triple:
    def __call__(self, x):
        return 3 * x


@pytest.mark.parametrize("mapping, options", [("simple", {}), ("multi", {"start_method": "spawn"})])
def test_pes_of_partials_and_callable_objects_name_themselves_and_travel(mapping, options):
    """functools.partial and callable objects have no __name__: the PE is
    named after the function the partial wraps, or the object's class."""
    add = d4p.SimpleFunctionPE(functools.partial(_add, 10))
    triple = d4p.SimpleFunctionPE(_Triple())
    twice = d4p.iterative(functools.partial(_twice, n=2))()
    chain = d4p.create_iterative_chain([functools.partial(_add, 1), _Triple()])
    assert [add.name, triple.name, type(twice).__name__] == ["PE__add", "PE__Triple", "_twice"]
    assert [node.getContainedObject().name for node in chain._succ] == ["PE__add", "PE__Triple"]
    graph = d4p.WorkflowGraph()
    pes = [NumberProducer(3), add, triple, twice, chain]
    for upstream, downstream in itertools.pairwise(pes):
        graph.connect(upstream, "output", downstream, "input")
    result = d4p.run(graph, mapping=mapping, processes=5, fuse=False, **options)
    assert sorted(*[ports["output"] for ports in result.values()]) == [93, 93, 102, 102, 111, 111]


def test_base_pe_ports_from_constructor():
    pe = d4p.BasePE(inputs=["a"], outputs=["b"], num_inputs=2, num_outputs=1)
    assert list(pe.inputconnections) == ["input0", "input1", "a"]
    assert list(pe.outputconnections) == ["output0", "b"]


def test_base_pe_numbers_its_ports_after_base_pe_names_as_dispel4py():
    """A subclass's own INPUT_NAME / OUTPUT_NAME do not rename the numbered
    ports: dispel4py 1.2.1 gives input0, input1 and output0 here."""

    class Renamed(d4p.BasePE):
        INPUT_NAME, OUTPUT_NAME = "in", "out"

        def __init__(self):
            d4p.BasePE.__init__(self, num_inputs=2, num_outputs=1)

    pe = Renamed()
    assert (list(pe.inputconnections), list(pe.outputconnections)) == (
        ["input0", "input1"], ["output0"])


def test_log_prefixes_the_pe_id(capsys):
    pe = Pair()
    pe.log("hello")
    assert capsys.readouterr().out == "Pair: hello\n"


# -- PEs from functions -----------------------------------------------------------


@d4p.producer
def letters(word="abc"):
    yield from word


@d4p.producer
def lengths(item, extra=0):
    return len(item) + extra


@d4p.iterative
def upper(text, twice=False):
    return text.upper() * (2 if twice else 1)


@d4p.iterative
def explode(text):
    yield from text


@d4p.consumer
def collect(item, path=None):
    with open(path, "a") as out:
        out.write(f"{item}\n")


def test_producer_generator_with_parameters():
    graph = d4p.WorkflowGraph()
    src, up = letters(word="xyz"), upper(twice=True)
    graph.connect(src, "output", up, "input")
    assert d4p.run(graph)[up.id]["output"] == ["XX", "YY", "ZZ"]


def test_producer_gets_each_input_item_as_first_argument():
    graph = d4p.WorkflowGraph()
    src = lengths(extra=100)
    graph.add(src)
    result = d4p.run(graph, {src: ["a", "bbb", "cc"]})
    assert result[src.id]["output"] == [101, 103, 102]


def test_producer_gets_falsy_input_items_too():
    graph = d4p.WorkflowGraph()
    src = lengths()
    graph.add(src)
    assert d4p.run(graph, {src: ["", "ab"]})[src.id]["output"] == [0, 2]


def test_iterative_generator_writes_every_value():
    graph = d4p.WorkflowGraph()
    src, ex = letters(word="hi"), explode()
    graph.connect(src, "output", ex, "input")
    assert d4p.run(graph)[ex.id]["output"] == ["h", "i"]


def test_consumer_function_is_called_with_parameters(tmp_path):
    sink = tmp_path / "sink.txt"
    graph = d4p.WorkflowGraph()
    src, col = letters(word="ab"), collect(path=str(sink))
    graph.connect(src, "output", col, "input")
    d4p.run(graph)
    assert sink.read_text() == "a\nb\n"


@pytest.mark.parametrize("make", [Double, Sink, upper, collect], ids=lambda m: m.__name__)
def test_iterations_of_a_pe_that_takes_input_items_say_what_to_give(make):
    """Before, the iteration's {} reached the PE: a KeyError with a traceback."""
    graph = d4p.WorkflowGraph()
    pe = make(path="unused") if make is collect else make()
    graph.add(pe)
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(graph, {pe: 2})
    assert str(info.value) == (
        f"PE {pe.id!r}: an iteration gives it no data on input 'input': give it a list of "
        "input items such as [{'input': value}], not a number of iterations")


class Ticker(d4p.BasePE):
    def process(self, inputs):
        return {"output": dict(inputs)}


def test_iterations_of_a_generic_pe_with_input_ports_hand_it_no_data_as_in_dispel4py():
    graph = d4p.WorkflowGraph()
    ticker = Ticker(inputs=["input"], outputs=["output"])
    graph.add(ticker)
    assert d4p.run(graph, {ticker: 2})[ticker.id]["output"] == [{}, {}]


def test_decorated_pe_has_the_function_name_and_doc():
    assert letters.__name__ == "letters" and upper.__name__ == "upper"
    pe = upper()
    assert pe.name == "upper"
    assert "input" in pe.inputconnections and "output" in pe.outputconnections


def test_decorated_pe_rejects_unknown_parameters():
    with pytest.raises(d4p.GraphError, match=r"upper: .*unexpected keyword argument 'loud'"):
        upper(loud=True)


def test_decorated_pe_names_the_parameter_closest_to_a_misspelt_one():
    with pytest.raises(d4p.GraphError) as info:
        upper(twise=True)
    assert str(info.value) == ("upper: got an unexpected keyword argument 'twise' (did you mean "
                               "'twice'?)")


@pytest.mark.parametrize(("make", "said"), [
    (lambda: upper(True), "upper() takes its parameters by name (twice=...), not True"),
    (lambda: explode("abc"), "explode() takes no parameters, not 'abc'"),
    (lambda: collect(1, "out.txt"), "collect() takes its parameters by name (path=...), not 1, "
                                    "'out.txt'"),
])
def test_decorated_pe_given_positional_arguments_says_to_name_them(make, said):
    """Before: TypeError: _IterativeFunctionPE.__init__() takes 1 positional argument..."""
    with pytest.raises(d4p.GraphError) as info:
        make()
    assert str(info.value) == said


@pytest.mark.parametrize("mapping", ["simple", "multi"])
def test_items_for_a_producer_function_without_a_parameter_are_a_usage_error(mapping):
    """Before: TypeError: letters() takes 0 positional arguments but 1 was given, exit 1."""
    @d4p.producer
    def ticks():
        yield from range(2)

    graph = d4p.WorkflowGraph()
    graph.add(tick := ticks())
    with pytest.raises(d4p.UsageError) as info:
        d4p.run(graph, {tick: ["a.txt"]}, mapping=mapping, processes=2)
    assert str(info.value) == (f"PE {tick.id!r}: ticks() takes no input item, and was given "
                               "'a.txt': give it a number of iterations, or give ticks a "
                               "parameter for the item (def ticks(item, ...))")


@pytest.mark.parametrize("decorator", [d4p.producer, d4p.iterative, d4p.consumer])
def test_decorating_what_is_no_function_is_one_line(decorator):
    """Before: AttributeError: 'int' object has no attribute '__name__'."""
    with pytest.raises(d4p.GraphError) as info:
        decorator(3)
    assert str(info.value) == f"d4p.{decorator.__name__} makes a PE class from a function, not from 3"


def test_decorated_pe_pickles_as_its_module_level_name():
    pe = upper(twice=True)
    copy = pickle.loads(pickle.dumps(pe))
    assert type(copy) is upper and copy.params == {"twice": True}
