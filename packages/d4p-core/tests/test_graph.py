"""The workflow graph: connecting, validation errors, composites and drawing."""

from __future__ import annotations

import shutil

import d4p
import networkx as nx
import pytest
from d4p.examples import NumberProducer
from d4p.testing.workflows import AddOne, DoubleThenAdd, Nested, Square, Total


class Typed(d4p.GenericPE):
    def __init__(self, out_type=None, in_type=None):
        super().__init__()
        self._add_input("input", tuple_type=in_type)
        self._add_output("output", tuple_type=out_type)

    def process(self, inputs):
        return {"output": inputs["input"]}


def test_connect_adds_both_pes_and_records_the_ports():
    graph = d4p.WorkflowGraph()
    src, add = NumberProducer(3), AddOne()
    graph.connect(src, "output", add, "input")
    assert graph.get_contained_objects() == [src, add]
    assert list(graph.edges()) == [(src, "output", add, "input")]
    assert src.id.startswith("NumberProducer") and add.id.startswith("AddOne")
    assert src.id != add.id


def test_adding_twice_is_a_no_op():
    graph = d4p.WorkflowGraph()
    pe = AddOne()
    assert graph.add(pe) is graph.add(pe)
    assert graph.graph.number_of_nodes() == 1


@pytest.mark.parametrize(("side", "port", "known"), [
    ("output", "out", "'output'"),
    ("input", "inp", "'input'"),
])
def test_unknown_port_names_pe_and_its_ports(side, port, known):
    graph = d4p.WorkflowGraph()
    a, b = AddOne(), Square()
    graph.add(a)
    graph.add(b)
    args = (a, port, b, "input") if side == "output" else (a, "output", b, port)
    pe = a if side == "output" else b
    with pytest.raises(d4p.GraphError) as info:
        graph.connect(*args)
    assert str(info.value) == (f"PE {pe.id!r} ({type(pe).__name__}) has no {side} {port!r} "
                               f"(did you mean {known}?); its {side}s are: {known}")


def test_a_port_far_from_every_name_gets_no_suggestion():
    with pytest.raises(d4p.GraphError) as info:
        d4p.WorkflowGraph().connect(AddOne(), "zzz", Square(), "input")
    assert str(info.value) == "PE 'AddOne' (AddOne) has no output 'zzz'; its outputs are: 'output'"


@pytest.mark.parametrize("swapped", ["input", "output"])
def test_an_output_given_as_an_input_says_how_connect_reads(swapped):
    a, b = AddOne(), Square()
    args = (a, "output", b, "output") if swapped == "input" else (a, "input", b, "input")
    with pytest.raises(d4p.GraphError) as info:
        d4p.WorkflowGraph().connect(*args)
    other = "output" if swapped == "input" else "input"
    pe = b if swapped == "input" else a
    assert str(info.value) == (
        f"PE {pe.id!r} ({type(pe).__name__}) has no {swapped} {other!r} ({other!r} is one of its "
        f"{other}s: connect(from_pe, output, to_pe, input) links an output of one PE to an input "
        f"of another); its {swapped}s are: {swapped!r}")


def test_source_has_no_inputs():
    with pytest.raises(d4p.GraphError, match=r"has no input 'input'; its inputs are: none"):
        d4p.WorkflowGraph().connect(AddOne(), "output", NumberProducer(), "input")


def test_cycle_is_refused_naming_the_edge():
    graph = d4p.WorkflowGraph()
    a, b, c = AddOne(), Square(), AddOne()
    graph.connect(a, "output", b, "input")
    graph.connect(b, "output", c, "input")
    with pytest.raises(d4p.GraphError) as info:
        graph.connect(c, "output", a, "input")
    assert str(info.value) == (f"connecting PE {c.id!r}.output -> PE {a.id!r}.input would close "
                               "a cycle; d4p workflows must be acyclic")
    assert graph.graph.number_of_edges() == 2


def test_self_loop_is_refused():
    pe = AddOne()
    with pytest.raises(d4p.GraphError, match="to itself: cycles are not supported"):
        d4p.WorkflowGraph().connect(pe, "output", pe, "input")


def test_connecting_the_same_ports_twice_delivers_each_unit_twice():
    """As in dispel4py: each edge delivers every unit (a dispel4py composite
    test connects the same ports twice and expects every value twice)."""
    graph = d4p.WorkflowGraph()
    a, b = AddOne(), Square()
    graph.connect(a, "output", b, "input")
    graph.connect(a, "output", b, "input")
    assert graph.graph.number_of_edges() == 2
    (ports,) = d4p.run(graph, {a: [{"input": 1}, {"input": 2}]}).values()
    assert sorted(ports["output"]) == [4, 4, 9, 9]


def test_a_composite_mapping_to_a_missing_port_is_a_graph_error():
    """dispel4py composites set ``inputmappings`` by hand; a mapping to a port
    that does not exist is found when the graph is flattened (drawing does
    not validate), and named."""
    inner_a, inner_b = AddOne(), Square()
    composite = d4p.WorkflowGraph()
    composite.connect(inner_a, "output", inner_b, "input")
    composite.inputmappings = {"in": (inner_a, "nope")}
    graph = d4p.WorkflowGraph()
    graph.connect(AddOne(), "output", composite, "in")
    with pytest.raises(d4p.GraphError) as info:
        graph.flattened()
    assert str(info.value) == (
        f"composite 'WorkflowGraph' maps its input 'in' to input 'nope' of PE {inner_a.id!r}, "
        "which has no such input (its inputs: 'input')")
    composite.inputmappings = {"in": inner_a}
    with pytest.raises(d4p.GraphError, match="maps its input 'in' to .* not to a "
                                             r"\(PE, port\) pair"):
        d4p.run(graph)


def test_incompatible_declared_types_name_both_pes_and_ports():
    graph = d4p.WorkflowGraph()
    a, b = Typed(out_type=str), Typed(in_type=int)
    with pytest.raises(d4p.GraphError) as info:
        graph.connect(a, "output", b, "input")
    assert str(info.value) == (f"type mismatch: PE {a.id!r}.output produces str but "
                               f"PE {b.id!r}.input accepts int")


@pytest.mark.parametrize(("out_type", "in_type"), [
    (bool, int), (int, (int, float)), (str, object), (None, int), (int, None),
    (["a", "b"], ["a"]),
])
def test_compatible_or_undeclared_types_connect(out_type, in_type):
    graph = d4p.WorkflowGraph()
    graph.connect(Typed(out_type=out_type), "output", Typed(in_type=in_type), "input")
    assert graph.graph.number_of_edges() == 1


def test_types_are_checked_through_composite_mappings():
    inner = Typed(in_type=int)
    comp = d4p.CompositePE()
    comp._map_input("input", inner, "input")
    with pytest.raises(d4p.GraphError, match=r"produces str but composite 'CompositePE'.input accepts int"):
        d4p.WorkflowGraph().connect(Typed(out_type=str), "output", comp, "input")


def test_composite_with_unmapped_port_is_refused():
    comp = DoubleThenAdd()
    with pytest.raises(d4p.GraphError) as info:
        d4p.WorkflowGraph().connect(comp, "result", Square(), "input")
    assert str(info.value) == ("composite 'DoubleThenAdd' has no output 'result' mapped "
                               "(mapped outputs: 'output'); map it with "
                               "_map_output('result', pe, port)")


def test_composite_mapping_to_unknown_inner_port_is_refused():
    with pytest.raises(d4p.GraphError, match=r"has no input 'in'; its inputs are: 'input'"):
        d4p.CompositePE()._map_input("input", AddOne(), "in")


@pytest.mark.parametrize("verb", ["add", "connect"])
def test_a_pe_class_given_for_a_pe_says_to_make_one(verb):
    """Before: "cannot connect <class 'test_graph.Square'>: expected a PE"."""
    graph = d4p.WorkflowGraph()
    with pytest.raises(d4p.GraphError) as info:
        graph.add(Square) if verb == "add" else graph.connect(AddOne(), "output", Square, "input")
    where = " to a workflow" if verb == "add" else ""
    assert str(info.value) == (f"cannot {verb} Square{where}: it is a PE class; {verb} an "
                               "instance of it, such as Square()")


def test_connecting_a_pe_whose_init_skipped_super_says_so():
    """Before: AttributeError: 'Bare' object has no attribute 'outputconnections'."""
    class Bare(d4p.ProducerPE):
        def __init__(self):
            self.n = 3

    with pytest.raises(d4p.GraphError) as info:
        d4p.WorkflowGraph().connect(Bare(), "output", Square(), "input")
    assert str(info.value) == ("Bare was not initialised: call super().__init__() (or "
                               "GenericPE.__init__(self)) in its __init__")


def test_a_port_that_is_no_string_is_refused():
    """Before: TypeError: unhashable type: 'list'."""
    with pytest.raises(d4p.GraphError) as info:
        d4p.WorkflowGraph().connect(AddOne(), ["output"], Square(), "input")
    assert str(info.value) == ("the output of PE 'AddOne' is named by a string such as 'output', "
                               "not ['output']")


def test_adding_something_else_is_refused():
    with pytest.raises(d4p.GraphError, match=r"cannot add 42 to a workflow: expected a PE"):
        d4p.WorkflowGraph().add(42)


def test_empty_chain_is_refused():
    with pytest.raises(d4p.GraphError, match="needs at least one function"):
        d4p.create_iterative_chain([])


def test_nested_composites_flatten_on_networkx_3():
    assert int(nx.__version__.split(".")[0]) >= 3
    graph = d4p.WorkflowGraph()
    src, nested, total = NumberProducer(4), Nested(), Total()
    graph.connect(src, "output", nested, "input")
    graph.connect(nested, "output", total, "input")
    flat = graph.flattened()
    pes = flat.get_contained_objects()
    assert all(isinstance(pe, d4p.GenericPE) for pe in pes)
    names = sorted(pe.name for pe in pes)
    assert names == ["AddOne", "Double", "NumberProducer", "Square", "Total"]
    edges = sorted((a.name, pa, b.name, pb) for a, pa, b, pb in flat.edges())
    assert edges == [("AddOne", "output", "Square", "input"),
                     ("Double", "output", "AddOne", "input"),
                     ("NumberProducer", "output", "Double", "input"),
                     ("Square", "output", "Total", "input")]
    # the original graph is left as it was
    assert nested in graph.get_contained_objects()
    # and it runs: sum over x in 0..3 of (2x + 1)^2
    assert list(d4p.run(graph).values()) == [{"output": [(4, 1 + 9 + 25 + 49)]}]


def test_flatten_in_place_keeps_the_dispel4py_api():
    graph = d4p.WorkflowGraph()
    chain = d4p.create_iterative_chain([abs, (round, {"ndigits": 1})])
    graph.connect(NumberProducer(2), "output", chain, "input")
    graph.flatten()
    assert sorted(pe.name for pe in graph.getContainedObjects()) == [
        "NumberProducer", "PE_abs", "PE_round"]


def test_pes_are_in_topological_order():
    graph = d4p.WorkflowGraph()
    src, comp, total = NumberProducer(1), DoubleThenAdd(), Total()
    graph.connect(comp, "output", total, "input")
    graph.connect(src, "output", comp, "input")
    assert [pe.name for pe in graph.pes()] == ["NumberProducer", "Double", "AddOne", "Total"]


def test_to_dot_shows_ports_instances_and_groupings():
    graph = d4p.WorkflowGraph()
    src, total = NumberProducer(1), Total("global")
    sq = Square()
    sq.numprocesses = 3
    graph.connect(src, "output", sq, "input")
    graph.connect(sq, "output", total, "input")
    dot = graph.to_dot()
    assert dot.startswith("digraph workflow {")
    assert f'"{sq.id}" [label="{{{{<in_input> input}}|{sq.id} ×3|{{<out_output> output}}}}"];' \
        in dot
    assert f'"{sq.id}":out_output -> "{total.id}":in_input [label="global"];' in dot
    assert f'"{src.id}":out_output -> "{sq.id}":in_input;' in dot


def test_to_mermaid_labels_edges_with_ports_and_grouping():
    graph = d4p.WorkflowGraph()
    src, total = NumberProducer(1), Total("all", numprocesses=2)
    graph.connect(src, "output", total, "input")
    text = graph.to_mermaid()
    assert text.splitlines() == [
        "flowchart LR",
        f'  pe0["{src.id}"]',
        f'  pe1["{total.id} ×2"]',
        '  pe0 -->|"output → input (all)"| pe1',
    ]


def test_svg_needs_graphviz():
    graph = d4p.WorkflowGraph()
    graph.connect(NumberProducer(1), "output", AddOne(), "input")
    if shutil.which("dot") is None:
        with pytest.raises(d4p.GraphError, match=r"drawing \.svg needs Graphviz's 'dot' "
                                                  r"command: install Graphviz"):
            graph.to_svg()
        with pytest.raises(d4p.GraphError, match=r"drawing \.png needs Graphviz"):
            graph.to_png()
        assert graph._repr_svg_() is None
    else:
        assert "<svg" in graph.to_svg()
        assert graph.to_png().startswith(b"\x89PNG")


def test_a_notebook_shows_the_graph_without_graphviz(monkeypatch):
    """Jupyter shows _repr_svg_ (Graphviz) or else _repr_html_: never a bare repr."""
    graph = d4p.WorkflowGraph()
    src, add = NumberProducer(1), AddOne()
    graph.connect(src, "output", add, "input")
    monkeypatch.setenv("PATH", "")  # no dot
    assert graph._repr_svg_() is None
    page = graph._repr_html_()
    assert f"<li><b>{src.id}</b>.output &rarr; <b>{add.id}</b>.input</li>" in page
    assert '<pre class="mermaid">flowchart LR' in page


def test_topological_order_is_networkx_lexicographical_order():
    import random

    import networkx as nx
    from d4p.graph import topological_order

    rng = random.Random(7)
    for _ in range(50):
        nodes = [f"n{rng.randrange(1000):03d}" for _ in range(rng.randrange(1, 30))]
        nodes = list(dict.fromkeys(nodes))
        edges = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]
                 if rng.random() < 0.15]
        g = nx.MultiDiGraph()
        g.add_nodes_from(nodes)
        g.add_edges_from(edges)
        assert topological_order(nodes, edges) == list(nx.lexicographical_topological_sort(g))


def test_find_cycle_and_cycles_rejected_in_order():
    from d4p.graph import find_cycle, topological_order

    assert find_cycle("abcd", [("a", "b"), ("b", "c"), ("c", "d")]) is None
    assert find_cycle("abcd", [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")]) == ["b", "c", "b"]
    with pytest.raises(d4p.GraphError, match="the workflow has a cycle"):
        topological_order("ab", [("a", "b"), ("b", "a")])


def test_building_a_graph_does_not_import_networkx_and_graph_is_its_view():
    import subprocess
    import sys

    code = ("import sys\nfrom d4p.examples import wordcount\ngraph, _ = wordcount(10)\n"
            "order = [pe.id for pe in graph.pes()]\nassert 'networkx' not in sys.modules\n"
            "view = graph.graph\nprint(order, view.number_of_nodes(), view.number_of_edges())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("]")[1].split() == ["3", "2"]
    assert done.stdout.startswith("['WordProducer")


def test_pe_ids_are_numbered_within_their_graph_so_a_rebuilt_graph_has_the_same_ids():
    def build():
        graph = d4p.WorkflowGraph()
        graph.connect(NumberProducer(3), "output", AddOne(), "input")
        return graph, list(d4p.run(graph))

    first, second = build(), build()
    assert first[1] == second[1] == ["AddOne1"]
    assert [pe.id for pe in first[0].pes()] == ["NumberProducer0", "AddOne1"]


def test_equal_composites_get_distinct_pe_ids_when_flattened():
    graph = d4p.WorkflowGraph()
    one = d4p.create_iterative_chain([str.upper])
    two = d4p.create_iterative_chain([str.upper])
    graph.connect(one, "output", two, "input")
    ids = [pe.id for pe in graph.pes()]
    assert len(set(ids)) == 2 and ids[0] == "PE_upper0"


def test_disconnect_removes_a_connection_and_the_networkx_view_is_read_only():
    import networkx as nx

    graph = d4p.WorkflowGraph()
    src, add = NumberProducer(2), AddOne()
    graph.connect(src, "output", add, "input")
    graph.connect(src, "output", add, "input")  # twice: delivered once per edge
    assert graph.graph.number_of_edges() == 2
    with pytest.raises(nx.NetworkXError, match="Frozen graph can't be modified"):
        graph.graph.remove_node(next(iter(graph.graph.nodes)))
    assert graph.disconnect(src, "output", add, "input") == 2
    assert list(graph.edges()) == []
    assert graph.disconnect(src, "output", AddOne(), "input") == 0
