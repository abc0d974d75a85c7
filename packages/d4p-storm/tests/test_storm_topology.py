"""A plan as a Storm topology: components, streams, groupings, parallelism,
and the streamparse Topology and Flux form of the exported project."""

import io

import d4p
import pytest
from d4p.grouping import stable_hash
from d4p.plan import make_plan
from d4p.testing import get_case, workflows
from d4p_storm import export, load_topology, translate
from d4p_storm.harness import fields_task_index
from d4p_storm.topology import EOS_STREAM, KeyField


def plan_of(case):
    graph, inputs = get_case(case).build()
    return make_plan(graph, 1, inputs)


def by_stable_name(topology):
    return {c.pe.rstrip("0123456789"): c for c in topology.components}


def test_sources_are_spouts_and_parallelism_is_the_instance_count():
    topo = translate(plan_of("split_merge"))
    comps = by_stable_name(topo)
    assert [c.kind for c in topo.components] == ["spout", "bolt", "bolt", "bolt", "bolt"]
    assert {k: c.tasks for k, c in comps.items()} == \
        {"Numbers": 1, "Splitter": 1, "Double": 2, "AddOne": 2, "Merge": 1}
    assert comps["Numbers"].is_spout and topo.spouts == (comps["Numbers"],)
    # task k runs instance k: the plan's instance ids in order
    plan = plan_of("split_merge")
    double = translate(plan).of_pe(next(p for p in plan.pes if p.startswith("Double")))
    assert double.iids == plan.by_pe[double.pe]


def test_streams_are_output_ports_plus_end_of_stream():
    comps = by_stable_name(translate(plan_of("split_merge")))
    splitter = comps["Splitter"]
    assert [(s.id, s.port, s.fields) for s in splitter.streams] == [
        ("small", "small", ("unit",)), ("large", "large", ("unit",)),
        (EOS_STREAM, None, ("source",))]
    merge = comps["Merge"]
    assert merge.results == ("output",)  # unconnected: a result stream nobody subscribes to
    assert merge.stream("output").fields == ("unit",)


def test_bolts_subscribe_to_data_streams_and_to_every_feeders_end_of_stream():
    comps = by_stable_name(translate(plan_of("split_merge")))
    merge = comps["Merge"]
    subs = {(s.component, s.stream): (s.grouping, s.port) for s in merge.inputs}
    assert subs == {
        (comps["Double"].name, "output"): ("SHUFFLE", "a"),
        (comps["AddOne"].name, "output"): ("SHUFFLE", "b"),
        (comps["Double"].name, EOS_STREAM): ("ALL", None),
        (comps["AddOne"].name, EOS_STREAM): ("ALL", None),
    }


@pytest.mark.parametrize(("case", "pe", "grouping"), [
    ("grouping_shuffle", "Square", "SHUFFLE"),
    ("grouping_all", "Total", "ALL"),
    ("grouping_global", "Total", "GLOBAL"),
    ("grouping_group_by", "KeyCount", "FIELDS"),
    ("grouping_group_by_key", "KeyCount", "FIELDS"),
    ("parallel_chain", "AddOne", "SHUFFLE"),  # a chain the plan fuses is a shuffle edge
])
def test_groupings(case, pe, grouping):
    comp = by_stable_name(translate(plan_of(case)))[pe]
    data = [s for s in comp.inputs if s.stream != EOS_STREAM]
    assert [s.grouping for s in data] == [grouping]
    if grouping == "FIELDS":
        assert data[0].fields == (f"key_{comp.name}_input",)
    else:
        assert data[0].fields == ()


def test_global_grouping_gets_one_task():
    assert by_stable_name(translate(plan_of("grouping_global")))["Total"].tasks == 1


@pytest.mark.parametrize("tasks", [1, 2, 3, 5, 7])
def test_key_field_makes_storm_pick_the_instance_d4p_picks(tasks):
    key = KeyField("key", d4p.group_by(0), tasks)
    units = [(k, 0) for k in ["k0", "k1", "alpha", "", "ünï", 0, 1, 12345678901, -3, 2.5, None,
                              (1, "a"), b"raw"]] + [(f"w{i}", i) for i in range(200)]
    for unit in units:
        value = key.value(unit)
        assert 0 <= value < tasks
        assert fields_task_index([value], tasks) == stable_hash(unit[0]) % tasks, unit


def test_an_output_port_feeding_two_inputs_of_one_pe_gets_a_second_stream():
    graph = d4p.WorkflowGraph()
    src, merge = workflows.Numbers(5), workflows.Merge()
    graph.connect(src, "output", merge, "a")
    graph.connect(src, "output", merge, "b")
    topo = translate(make_plan(graph, 1, {src: 1}))
    numbers = topo.of_pe(src.id)
    assert [s.id for s in numbers.streams] == ["output", "output~b", EOS_STREAM]
    assert {(s.stream, s.port) for s in topo.of_pe(merge.id).inputs} == \
        {("output", "a"), ("output~b", "b"), (EOS_STREAM, None)}
    result = d4p.run(graph, {src: 1}, mapping="storm-harness")
    assert sorted(result[merge.id]["output"]) == sorted([("a", i) for i in range(5)]
                                                        + [("b", i) for i in range(5)])


def test_input_items_for_a_pe_with_feeders_come_from_a_spout_of_their_own():
    plan = plan_of("input_list_feed")
    topo = translate(plan)
    feed = next(c for c in topo.spouts if c.pe.endswith(".inputs"))
    assert feed.name == feed.pe  # "AddOneN.inputs": dots are fine in Storm ids
    add = next(c for c in topo.bolts if c.pe.startswith("AddOne"))
    assert {s.component for s in add.inputs} == {feed.name, by_stable_name(topo)["Numbers"].name}


@pytest.fixture(scope="module")
def wordcount_project(tmp_path_factory):
    graph, inputs = get_case("wordcount").build()
    plan = make_plan(graph, 1, inputs)
    return plan, export(plan, tmp_path_factory.mktemp("wc") / "project", "wordcount")


def test_exported_streamparse_topology(wordcount_project):
    plan, project = wordcount_project
    cls = load_topology(project.folder)
    assert cls.__name__ == "Wordcount"
    assert cls.config == {"topology.max.spout.pending": 1000}
    specs = {s.name: s for s in cls.specs}
    assert list(specs) == [c.name for c in project.topology.components]
    for comp in project.topology.components:
        spec = specs[comp.name]
        assert type(spec).__name__ == ("ShellSpoutSpec" if comp.is_spout else "ShellBoltSpec")
        assert spec.par == comp.tasks == len(plan.by_pe[comp.pe])
        shell = spec.component_object.shell
        assert (shell.execution_command, shell.script) == \
            ("streamparse_run", f"wordcount_d4p.{spec.component_cls.__name__}")
        assert {s: list(i.output_fields) for s, i in spec.outputs.items()} == \
            {s.id: list(s.fields) for s in comp.streams}
        got = {(g.componentId, g.streamId): repr(grouping) for g, grouping in spec.inputs.items()}
        # Storm's global grouping is a fields grouping on no field
        want = {(s.component, s.stream): {"FIELDS": f"fields({list(s.fields)!r})",
                                          "GLOBAL": "fields([])"}.get(s.grouping, s.grouping)
                for s in comp.inputs}
        assert got == want
    counter = next(c for c in project.topology.bolts if c.tasks == 3)
    assert any(repr(g).startswith("fields(['key_") for g in specs[counter.name].inputs.values())


def test_flux_form_of_the_exported_topology(wordcount_project):
    from ruamel.yaml import YAML

    _, project = wordcount_project
    flux = load_topology(project.folder).to_flux_dict("wordcount")
    assert flux["name"] == "wordcount"
    assert [s["id"] for s in flux["spouts"]] == [c.name for c in project.topology.spouts]
    assert [b["id"] for b in flux["bolts"]] == [c.name for c in project.topology.bolts]
    for entry in flux["spouts"] + flux["bolts"]:
        comp = project.topology[entry["id"]]
        kind = "spouts.FluxShellSpout" if comp.is_spout else "bolts.FluxShellBolt"
        assert entry["className"] == f"org.apache.storm.flux.wrappers.{kind}"
        assert entry["constructorArgs"][0][0] == "streamparse_run"
        assert entry["parallelism"] == comp.tasks
        assert {tuple(m["args"][:1]) for m in entry["configMethods"]} == \
            {(s.id,) for s in comp.streams}
    streams = {(s["from"], s["to"], s["grouping"]["streamId"]): s["grouping"]
               for s in flux["streams"]}
    want = {}
    for comp in project.topology.bolts:
        for sub in comp.inputs:
            grouping = {"streamId": sub.stream, "type": sub.grouping}
            if sub.grouping == "FIELDS":
                grouping["args"] = list(sub.fields)
            want[(sub.component, comp.name, sub.stream)] = grouping
    assert streams == want
    text = io.StringIO()
    YAML(typ="safe", pure=True).dump(flux, text)
    assert "type: FIELDS" in text.getvalue() and "type: ALL" in text.getvalue()


def test_thrift_form_for_nimbus_round_trips(wordcount_project):
    from streamparse.thrift import StormTopology
    from thriftpy2.protocol import TBinaryProtocol
    from thriftpy2.transport import TMemoryBuffer

    _, project = wordcount_project
    data = io.BytesIO()
    load_topology(project.folder).write(data)
    back = StormTopology()
    back.read(TBinaryProtocol(TMemoryBuffer(data.getvalue())))
    assert set(back.spouts) == {c.name for c in project.topology.spouts}
    assert set(back.bolts) == {c.name for c in project.topology.bolts}
    for comp in project.topology.components:
        common = (back.spouts if comp.is_spout else back.bolts)[comp.name].common
        assert common.parallelism_hint == comp.tasks
        assert set(common.streams) == {s.id for s in comp.streams}
