import pickle

import d4p
import pytest
from d4p_astro.coordinates import Position
from d4p_astro.pes import (
    ConeAnswer,
    FilterColumns,
    GalaxyRecord,
    GetVOTable,
    InternalExtinction,
    ReadRaDec,
    WriteCSV,
)
from d4p_astro.results import ExtinctionRow


def test_pes_and_data_units_survive_pickling_for_other_processes(tmp_path):
    pes = [
        ReadRaDec(),
        GetVOTable("fixture", 0.02, numprocesses=3),
        FilterColumns(2),
        InternalExtinction(2),
        WriteCSV(tmp_path / "x.csv"),
    ]
    copies = [pickle.loads(pickle.dumps(pe)) for pe in pes]
    assert [pe.name for pe in copies] == [
        "read_ra_dec", "get_votable", "filter_columns", "internal_extinction", "write_csv",
    ]  # fmt: skip
    assert (copies[1].radius, copies[1].numprocesses) == (0.02, 3)
    units = [
        Position(1, 2.0, 3.0),
        ConeAnswer(1, 2.0, 3.0, "s", b"<VOTABLE/>"),
        GalaxyRecord(1, 2.0, 3.0, None, 0.5),
        ExtinctionRow(1, 2.0, 3.0, "Sb", 0.5, 3, 0.7),
    ]
    assert [pickle.loads(pickle.dumps(u)) for u in units] == units


def test_write_csv_is_a_single_global_instance(tmp_path):
    pe = WriteCSV(tmp_path / "x.csv")
    assert pe.inputconnections["input"]["grouping"] == "global"
    assert pe.numprocesses == 1


def test_an_unknown_source_is_a_usage_error():
    with pytest.raises(d4p.UsageError, match="source must be one of vizier, fixture, not 'web'"):
        GetVOTable("web")


def test_the_pes_compose_into_a_graph_of_your_own(tmp_path):
    read, get, columns, extinction = (
        ReadRaDec(),
        GetVOTable("fixture"),
        FilterColumns(),
        InternalExtinction(),
    )
    graph = d4p.WorkflowGraph()
    graph.connect(read, "output", get, "input")
    graph.connect(get, "output", columns, "input")
    graph.connect(columns, "output", extinction, "input")
    coordinates = tmp_path / "c.txt"
    coordinates.write_text("202.4696,47.1952\n187.7059,12.3911\n")
    result = d4p.run(graph, {read: [{"input": str(coordinates)}]})
    rows = sorted(result[extinction.id]["output"])
    assert [(r.count, r.mtype, r.t, round(r.a_i, 4)) for r in rows] == [
        (1, "Sbc", 4, 0.7009),
        (2, "E", -5, 0.0),
    ]
