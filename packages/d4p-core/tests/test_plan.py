"""The plan: instances, process assignment, partitions, chain fusion, routes
and input placement, on its own (no mapping runs here)."""

from __future__ import annotations

import pickle

import d4p
import pytest
from d4p.examples import NumberProducer
from d4p.grouping import ALL, GLOBAL, SHUFFLE, GroupBy
from d4p.plan import PAIR, make_plan
from d4p.testing import CASES
from d4p.testing.workflows import AddOne, Double, KeyCount, Pairs, Square, Total


def chain(*counts, grouping=None):
    """numbers → Double ×counts[0] → AddOne ×counts[1] → ... → Total(grouping)."""
    graph = d4p.WorkflowGraph()
    src = NumberProducer(10)
    pes = [src]
    for k, n in enumerate(counts):
        pe = (Double, AddOne, Square)[k % 3]()
        pe.numprocesses = n
        graph.connect(pes[-1], "output", pe, "input")
        pes.append(pe)
    total = Total(grouping)
    graph.connect(pes[-1], "output", total, "input")
    return graph, pes + [total]


def procs(plan, pe):
    return [plan.instances[i].process for i in plan.by_pe[pe.id]]


def test_instances_come_from_numprocesses_and_sources_have_one():
    graph, (src, double, add, total) = chain(3, 2)
    src.numprocesses = 5
    plan = make_plan(graph, processes=4)
    assert {pe.name: len(plan.by_pe[pe.id]) for pe in (src, double, add, total)} == {
        "NumberProducer": 1, "Double": 3, "AddOne": 2, "Total": 1}
    assert [i.index for i in plan.instances if i.pe_id == double.id] == [0, 1, 2]
    assert [i.iid for i in plan.instances] == list(range(7))


def test_instance_counts_do_not_depend_on_processes():
    graph, pes = chain(3, 2)
    sizes = {n: [len(make_plan(graph, n).by_pe[pe.id]) for pe in pes] for n in (1, 2, 5, 16)}
    assert len({tuple(s) for s in sizes.values()}) == 1


def test_global_input_gets_one_instance():
    graph, (_, _, total) = chain(3, grouping="global")
    total.numprocesses = 4
    plan = make_plan(graph, 3)
    assert len(plan.by_pe[total.id]) == 1


def test_fewer_processes_than_pes_colocates():
    graph, pes = chain(2, 3, 2, grouping="global")
    for n in (1, 2, 3):
        plan = make_plan(graph, processes=n, fuse=False)
        assert plan.processes <= n
        assert {i.process for i in plan.instances} == set(range(plan.processes))
        assert len(plan.instances) == 1 + 2 + 3 + 2 + 1
    assert {i.process for i in make_plan(graph, 1).instances} == {0}


def test_instances_of_a_parallel_pe_land_on_different_processes():
    graph, (_, double, _) = chain(4, grouping="global")
    plan = make_plan(graph, processes=4)
    assert sorted(procs(plan, double)) == [0, 1, 2, 3]


def test_more_processes_than_instances_uses_only_what_it_needs():
    graph, _ = chain(2)
    plan = make_plan(graph, processes=64, fuse=False)
    assert plan.processes == len(plan.instances) == 4


def test_chain_fusion_pairs_instances_in_one_process():
    graph, (src, double, add, square, total) = chain(3, 3, 3, grouping="global")
    plan = make_plan(graph, processes=3)
    rules = {(r.src_pe, r.dst_pe): r.rule for r in plan.routes}
    assert rules[(src.id, double.id)] == SHUFFLE
    assert rules[(double.id, add.id)] == PAIR
    assert rules[(add.id, square.id)] == PAIR
    assert rules[(square.id, total.id)] == GLOBAL
    assert procs(plan, double) == procs(plan, add) == procs(plan, square)
    assert sorted(procs(plan, double)) == [0, 1, 2]


def test_no_fusion_across_different_counts_groupings_or_when_disabled():
    graph, (_, double, add, total) = chain(3, 2, grouping="all")
    rules = {(r.src_pe, r.dst_pe): r.rule for r in make_plan(graph, 3).routes}
    assert rules[(double.id, add.id)] == SHUFFLE
    assert rules[(add.id, total.id)] == ALL
    graph, (_, double, add, _) = chain(3, 3)
    plan = make_plan(graph, 3, fuse=False)
    assert {r.rule for r in plan.routes} == {SHUFFLE}


def test_a_fused_pipeline_needs_one_process():
    graph, _ = chain(1, 1, 1)
    assert make_plan(graph, processes=4).processes == 1


def test_explicit_partitions_are_honoured():
    graph, (src, double, add, square, total) = chain(2, 2, 2)
    graph.partitions = [[src, double], [add, square, total]]
    plan = make_plan(graph, processes=4)
    assert procs(plan, src)[0] == procs(plan, double)[0]
    assert procs(plan, add) == procs(plan, square)
    assert procs(plan, total)[0] == procs(plan, add)[0]
    assert set(procs(plan, src) + procs(plan, double)).isdisjoint(procs(plan, add))


def test_partitions_with_fewer_processes_than_partitions_colocate():
    graph, (src, double, add, total) = chain(1, 1)
    graph.partitions = [[src], [double], [add], [total]]
    plan = make_plan(graph, processes=2)
    assert plan.processes == 2
    assert len(plan.instances) == 4


def test_partition_naming_a_foreign_pe_is_refused():
    graph, (src, double, *_rest) = chain(1)
    stranger = AddOne()
    graph.partitions = [[src, double], [stranger]]
    with pytest.raises(d4p.GraphError, match=r"partition 1 names <AddOne AddOne>, which is not a "
                                             r"PE of this workflow"):
        make_plan(graph, 2)


def test_pe_in_two_partitions_is_refused():
    graph, (src, double, *_rest) = chain(1)
    graph.partitions = [[src, double], [double]]
    with pytest.raises(d4p.GraphError, match=rf"PE '{double.id}' is in partitions 0 and 1"):
        make_plan(graph, 2)


def test_routes_carry_the_grouping_and_targets_in_instance_order():
    graph = d4p.WorkflowGraph()
    src, count = Pairs(10), KeyCount([0], numprocesses=3)
    graph.connect(src, "output", count, "input")
    plan = make_plan(graph, 2)
    (route,) = plan.routes
    assert (route.src_pe, route.src_port, route.dst_pe, route.dst_port) == (
        src.id, "output", count.id, "input")
    assert route.rule == GroupBy((0,))
    assert route.targets == plan.by_pe[count.id]
    assert plan.routes_from[(src.id, "output")] == (route,)
    assert plan.upstream[route.targets[2]] == plan.by_pe[src.id]
    assert plan.downstream[plan.by_pe[src.id][0]] == route.targets


def test_unconnected_outputs_are_the_results():
    graph, (src, double, total) = chain(1)
    plan = make_plan(graph)
    assert plan.unconnected == {total.id: ["output"]}
    del src, double


def test_sources_run_once_unless_told():
    graph, (src, *_rest) = chain(1)
    assert make_plan(graph).inputs == {src.id: 1}
    assert make_plan(graph, inputs={src: 5}).inputs == {src.id: 5}
    assert make_plan(graph, inputs={src.id: [1, 2]}).inputs == {src.id: [1, 2]}
    assert make_plan(graph, inputs={"NumberProducer": 3}).inputs == {src.id: 3}


def test_input_list_for_a_non_source_becomes_a_hidden_feed():
    graph, (src, double, total) = chain(2)
    plan = make_plan(graph, 2, inputs={src: 1, double: [{"input": 100}, {"input": 200}]})
    (feed,) = plan.hidden
    assert feed == f"{double.id}.inputs"
    assert plan.inputs[feed] == [{"input": 100}, {"input": 200}]
    assert len(plan.by_pe[feed]) == 1
    (route,) = plan.routes_from[(feed, "input")]
    assert (route.dst_pe, route.dst_port, route.rule) == (double.id, "input", SHUFFLE)
    assert feed not in plan.assignment()
    result = d4p.run(graph, {src: 1, double: [{"input": 100}, {"input": 200}]})
    assert result[total.id]["output"] == [(12, 2 * (45 + 300))]


def test_inputs_naming_an_unknown_pe_list_the_pes():
    graph, (src, double, total) = chain(1)
    with pytest.raises(d4p.InputError) as info:
        make_plan(graph, inputs={"Nope": 3})
    assert str(info.value) == ("inputs name 'Nope', which is not a PE of this workflow; its PEs "
                               f"are: {', '.join(sorted([src.id, double.id, total.id]))}")


def test_inputs_naming_a_pe_with_a_typo_name_the_closest():
    graph, (src, double, total) = chain(1)
    with pytest.raises(d4p.InputError) as info:
        make_plan(graph, inputs={double.name.lower(): [{"input": 1}]})
    assert str(info.value).startswith(f"inputs name {double.name.lower()!r}, which is not a PE "
                                      f"of this workflow (did you mean {double.name!r}?); its "
                                      "PEs are: ")


def test_inputs_naming_a_pe_of_another_graph():
    graph, _ = chain(1)
    other = NumberProducer()
    d4p.WorkflowGraph().add(other)
    with pytest.raises(d4p.InputError, match=rf"inputs name PE '{other.id}', which is not in this "
                                             "workflow"):
        make_plan(graph, inputs={other: 1})


def test_inputs_naming_an_ambiguous_name():
    graph = d4p.WorkflowGraph()
    a, b = Double(), Double()
    graph.connect(NumberProducer(), "output", a, "input")
    graph.connect(a, "output", b, "input")
    with pytest.raises(d4p.InputError, match=rf"inputs name 'Double', which several PEs are "
                                             rf"called \({a.id}, {b.id}\); use one of these ids"):
        make_plan(graph, inputs={"Double": [{"input": 1}]})


def test_iterations_for_a_non_source_are_refused_with_the_fix():
    graph, (src, double, total) = chain(1)
    with pytest.raises(d4p.InputError) as info:
        make_plan(graph, inputs={double: 3})
    assert str(info.value) == (
        f"PE {double.id!r} is not a source (other PEs feed it), so it cannot run a number of "
        "iterations; give it a list of input items such as [{'input': value}] instead")
    del src, total


@pytest.mark.parametrize(("given", "message"), [
    (-1, "iterations must be >= 0, not -1"),
    (2.5, "must be a number of iterations or a list of input items, not float"),
    (True, "must be a number of iterations or a list of input items, not bool"),
    ("abc", "must be a number of iterations or a list of input items, not str"),
])
def test_bad_iterations_or_items_for_a_source(given, message):
    graph, (src, *_rest) = chain(1)
    with pytest.raises(d4p.InputError, match=rf"inputs for PE '{src.id}'.*{message}"):
        make_plan(graph, inputs={src: given})


@pytest.mark.parametrize(("items", "message"), [
    ([5], r"input item 0 for PE '{pe}' must be a dict of input port to data, such as "
          r"\{{'input': 5\}}; got 5"),
    ([{"input": 1}, {}], r"input item 1 for PE '{pe}' must be a dict"),
    ([{"inptu": 1}], r"input item 0 for PE '{pe}' names unknown input 'inptu' \(did you mean "
                     r"'input'\?\); its inputs are: 'input'"),
])
def test_bad_items_for_a_non_source(items, message):
    graph, (_, double, _) = chain(1)
    with pytest.raises(d4p.InputError, match=message.format(pe=double.id)):
        make_plan(graph, inputs={double: items})


def _headless():
    """A graph whose first PE has an input port: nothing feeds it but its inputs."""
    graph, double, total = d4p.WorkflowGraph(), Double(), Total()
    graph.connect(double, "output", total, "input")
    return graph, double


def test_raw_items_for_a_first_pe_with_input_ports_are_refused_before_the_run():
    """Before, ['x.xml'] reached IterativePE.process as the inputs dict: a TypeError."""
    graph, double = _headless()
    with pytest.raises(d4p.InputError) as info:
        make_plan(graph, inputs={double: [{"input": 1}, "x.xml"]})
    assert str(info.value) == (
        f"input item 1 for PE {double.id!r} must be a dict of input port to data, such as "
        "{'input': 'x.xml'}; got 'x.xml'")
    with pytest.raises(d4p.InputError, match=rf"item 0 for PE '{double.id}' names unknown input "
                                             r"'inptu' \(did you mean 'input'\?\); its inputs "
                                             "are: 'input'"):
        make_plan(graph, inputs={double: [{"inptu": 1}]})
    assert make_plan(graph, inputs={double: [{"input": 1}]}).inputs == {double.id: [{"input": 1}]}


def test_a_producer_takes_raw_items():
    graph = d4p.WorkflowGraph()
    source = NumberProducer()
    graph.add(source)
    assert make_plan(graph, inputs={source: [5, "x"]}).inputs == {source.id: [5, "x"]}


@pytest.mark.parametrize("n", [0, -2, 1.5, "2"])
def test_processes_must_be_a_positive_integer(n):
    graph, _ = chain(1)
    with pytest.raises(d4p.InputError, match=rf"must be a positive integer, not {n!r}"):
        make_plan(graph, processes=n)


def test_bad_numprocesses_names_the_pe():
    graph, (_, double, _) = chain(1)
    double.numprocesses = 0
    with pytest.raises(d4p.GraphError, match=rf"PE '{double.id}': numprocesses must be a "
                                             "positive integer, not 0"):
        make_plan(graph)


def test_empty_graph_is_refused():
    with pytest.raises(d4p.GraphError, match="the workflow graph is empty"):
        make_plan(d4p.WorkflowGraph())


def test_plan_is_pure_and_deterministic():
    graph, _ = chain(3, 2, 3)
    a, b = make_plan(graph, 3), make_plan(graph, 3)
    assert a.instances == b.instances and a.routes == b.routes


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_kit_plan_pickles(case):
    graph, inputs = case.build()
    plan = make_plan(graph, 3, inputs)
    copy = pickle.loads(pickle.dumps(plan))
    assert copy.instances == plan.instances and copy.routes == plan.routes
    assert copy.upstream == plan.upstream and copy.downstream == plan.downstream


def test_new_pe_copies_instances_and_sets_instance_and_rank():
    graph, (src, double, _) = chain(3)
    plan = make_plan(graph, 3, fuse=False)
    first, second = (plan.new_pe(i, reuse=True) for i in plan.by_pe[double.id][:2])
    assert first is double and second is not double
    assert (second.instance, second.rank) == (1, plan.instances[plan.by_pe[double.id][1]].process)
    assert plan.new_pe(plan.by_pe[double.id][0]) is not double
    del src


def test_pe_that_cannot_be_copied_is_explained():
    import threading

    class Locked(d4p.IterativePE):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    graph = d4p.WorkflowGraph()
    locked = Locked()
    locked.numprocesses = 2
    graph.connect(NumberProducer(), "output", locked, "input")
    plan = make_plan(graph, 2)
    with pytest.raises(d4p.GraphError, match=rf"PE '{locked.id}' cannot be copied into instances "
                                             r"\(.*\); create resources such as open files or "
                                             r"connections in preprocess\(\)"):
        plan.new_pe(plan.by_pe[locked.id][1])


def test_paired_instances_only_wait_for_their_partner():
    graph, (_, double, add, _) = chain(3, 3, grouping="global")
    plan = make_plan(graph, processes=3)
    for d, a in zip(plan.by_pe[double.id], plan.by_pe[add.id], strict=True):
        assert plan.downstream[d] == (a,)
        assert plan.upstream[a] == (d,)


def test_a_number_for_inputs_is_the_iterations_of_every_source():
    graph, (src, double, total) = chain(1)
    other = NumberProducer(2)
    graph.connect(other, "output", double, "input")
    plan = make_plan(graph, inputs=3)
    assert plan.inputs == {src.id: 3, other.id: 3}
    assert d4p.run(graph, 3)[total.id] == d4p.run(graph, {src: 3, other: 3})[total.id]
    assert d4p.run(graph, 3)[total.id] != d4p.run(graph)[total.id]


@pytest.mark.parametrize("given", ["3", [3], True])
def test_inputs_that_are_neither_a_dict_nor_a_number_are_refused(given):
    graph, _ = chain(1)
    with pytest.raises(d4p.InputError) as info:
        make_plan(graph, inputs=given)
    assert str(info.value) == ("inputs must be a dict {PE: iterations or [items]} or a number "
                               f"of iterations for every source PE, not {type(given).__name__}")
