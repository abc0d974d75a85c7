"""The whole int_ext workflow, on the simple and multi mappings, offline and against a local server."""

import os

import d4p
import pytest
from d4p_astro import build_int_ext, read_csv
from d4p_astro.coordinates import SHIPPED_COORDINATES
from d4p_astro.errors import CoordinatesError

# The results of the shipped coordinates on the synthetic fixture, T on the RC3 scale,
# A_i by the recipe
# (e.g. Sb, logR25 0.49: k = 0.754 * 10**-0.6 = 0.18940, R**-0.74979 = 0.42917,
# A_i = -2.5 log10(0.18940 + 0.81060 * 0.42917) = 0.6745).
EXPECTED_CSV = """\
count,ra,dec,MType,logR25,T,A_i
1,10.6847,41.269,Sb,0.49,3,0.6745
2,23.4621,30.6599,Scd,0.23,6,0.4062
3,202.4696,47.1952,Sbc,0.45,4,0.7009
4,148.8882,69.0653,Sab,0.28,2,0.3391
5,210.8023,54.349,SBc,0.02,5,0.0346
6,35.6392,42.3491,SBb,0.73,3,0.9438
7,189.0866,25.9877,Sd,0.87,7,1.5226
8,187.7059,12.3911,E,0.05,-5,0.0000
9,189.9976,-11.6231,S0a,0.39,0,0.1395
10,49.9208,-19.4111,I,0.18,10,0.3344
11,11.888,-25.2882,Sc,,5,
12,114.2142,65.6031,,0.6,,
13,150.1,2.2,,,,
"""


def run_int_ext(tmp_path, mapping="simple", processes=None, **params):
    output = tmp_path / f"{mapping}.csv"
    graph, inputs = build_int_ext(output=str(output), **params)
    result = d4p.run(graph, inputs, mapping=mapping, processes=processes)
    return output, result


def test_fixture_run_on_simple_writes_the_expected_table(tmp_path):
    output, result = run_int_ext(tmp_path, source="fixture")
    assert output.read_text() == EXPECTED_CSV
    (written,) = [ports["output"] for pe, ports in result.items() if pe.startswith("write_csv")]
    assert written == [str(output)]
    units = result.summary.units
    assert [units[pe] for pe in units if pe.startswith("get_votable")] == [13]
    assert [units[pe] for pe in units if pe.startswith("write_csv")] == [13]


def test_multi_with_two_processes_gives_the_identical_table(tmp_path):
    simple, _ = run_int_ext(tmp_path, source="fixture")
    multi, result = run_int_ext(tmp_path, mapping="multi", processes=2, source="fixture")
    assert multi.read_bytes() == simple.read_bytes()
    assert multi.read_text() == EXPECTED_CSV
    summary = result.summary
    assert summary.processes == 2
    (get_votable,) = [pe for pe in summary.assignment if pe.startswith("get_votable")]
    assert sorted(summary.assignment[get_votable]) == [0, 1]  # its 2 instances on 2 processes


def test_read_csv_gives_the_numbers_of_the_recipe(tmp_path):
    output, _ = run_int_ext(tmp_path, source="fixture")
    rows = {row.count: row for row in read_csv(output)}
    assert (rows[3].mtype, rows[3].logr25, rows[3].t, rows[3].a_i) == ("Sbc", 0.45, 4, 0.7009)
    assert rows[8].a_i == 0.0
    assert (rows[10].t, rows[10].a_i) == (10, 0.3344)  # "I": T = 10 on the RC3 scale
    assert (rows[12].t, rows[12].a_i) == (None, None)  # no type


def test_types_dispel4py_reproduces_dispel4pys_table(tmp_path):
    output, _ = run_int_ext(tmp_path, source="fixture", types="dispel4py")
    rows = {row.count: row for row in read_csv(output)}
    assert (rows[2].mtype, rows[2].t, rows[2].a_i) == ("Scd", 7, 0.4154)
    assert (rows[10].t, rows[10].a_i) == (None, None)  # dispel4py's table has no "I"


def test_unknown_types_table_is_a_usage_error(tmp_path):
    with pytest.raises(d4p.UsageError, match="-p types must be one of rc3, dispel4py"):
        build_int_ext(source="fixture", output=str(tmp_path / "r.csv"), types="rc2")


def test_a_wider_radius_still_picks_the_nearest_galaxy(tmp_path):
    output, _ = run_int_ext(tmp_path, source="fixture", radius=0.06)
    rows = {row.count: row for row in read_csv(output)}
    assert rows[1].mtype == "Sb"  # not the SBm 0.05 deg away
    assert (rows[13].mtype, rows[13].t, rows[13].a_i) == ("Sa", 1, 0.2586)


@pytest.mark.parametrize(("mapping", "processes"), [("simple", None), ("multi", 2)])
def test_vizier_source_against_a_local_cone_server_gives_the_same_table(
    tmp_path, cone_server, mapping, processes
):
    server = cone_server()
    output, _ = run_int_ext(
        tmp_path, mapping, processes, source="vizier", url=server.url, timeout=5.0
    )
    assert output.read_text().replace("\r\n", "\n") == EXPECTED_CSV
    assert len(server.requests) == 13
    assert sorted(float(q["RA"]) for _, q in server.requests)[0] == 10.6847


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("mapping", "processes"), [("simple", None), ("multi", 2)])
def test_unreachable_vizier_fails_the_run_in_time_and_leaves_no_csv(
    tmp_path, silent_url, mapping, processes
):
    output = tmp_path / "vizier.csv"
    output.write_text("older results\n")
    graph, inputs = build_int_ext(output=str(output), url=silent_url, timeout=0.3, retries=0)
    with pytest.raises(d4p.WorkflowFailed) as excinfo:
        d4p.run(graph, inputs, mapping=mapping, processes=processes)
    message = str(excinfo.value)
    assert "get_votable" in message
    assert f"VizieR cone search (VII/237) at {silent_url} failed 1 time(s)" in message
    assert "-p source=fixture" in message
    assert output.read_text() == "older results\n"
    assert os.listdir(tmp_path) == ["vizier.csv"]


def test_a_fixture_without_logr25_fails_naming_column_file_and_position(tmp_path):
    fixture = tmp_path / "broken.vot"
    text = (SHIPPED_COORDINATES.parent / "hyperleda_synthetic.vot").read_text()
    fixture.write_text(text.replace('name="logR25"', 'name="logD25"'))
    with pytest.raises(d4p.UsageError) as excinfo:  # found before the run
        run_int_ext(tmp_path, source="fixture", fixture=str(fixture))
    message = str(excinfo.value)
    assert message.startswith(f"int_ext: -p fixture: fixture {fixture}: the VOTable has no logR25")
    assert not (tmp_path / "simple.csv").exists()


def test_own_coordinates_away_from_fixture_galaxies_give_blank_rows(tmp_path):
    coordinates = tmp_path / "mine.txt"
    coordinates.write_text("202.4696,47.1952\n0.5,0.5\n")
    output, _ = run_int_ext(tmp_path, source="fixture", coordinates=str(coordinates))
    assert output.read_text().splitlines()[1:] == [
        "1,202.4696,47.1952,Sbc,0.45,4,0.7009",
        "2,0.5,0.5,,,,",
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "simbad"}, "-p source must be one of vizier, fixture, not 'simbad'"),
        ({"radius": 0.0}, "-p radius must be a positive number"),
        ({"timeout": -1.0}, "-p timeout must be a positive number"),
        ({"retries": -1}, "-p retries must be an integer >= 0"),
        ({"instances": 0}, "-p instances must be an integer >= 1"),
        (
            {"source": "fixture", "fixture": "/nonexistent.vot"},
            "-p fixture=/nonexistent.vot is not",
        ),
        ({"output": "/nonexistent-dir/x.csv"}, "the directory of -p output=/nonexistent-dir/x.csv"),
        ({"radius": float("inf")}, "-p radius must be a positive number up to 180, not inf"),
        ({"radius": 181.0}, "-p radius must be a positive number up to 180, not 181.0"),
        ({"output": "/tmp"}, "-p output=/tmp is a directory; give a file name"),
        (
            {"url": "vizier.cds.unistra.fr/viz-bin/conesearch"},
            "-p url must be an http:// or https:// cone-search URL, not 'vizier.cds",
        ),
        ({"url": "ftp://127.0.0.1/cone"}, "-p url must be an http:// or https://"),
    ],
)
def test_bad_parameters_are_usage_errors(params, message):
    with pytest.raises(d4p.UsageError, match="int_ext: " + message.replace("(", r"\(")):
        build_int_ext(**params)


def test_a_bad_coordinates_file_fails_before_the_run(tmp_path):
    coordinates = tmp_path / "bad.txt"
    coordinates.write_text("1,2\n3;4x\n")
    with pytest.raises(CoordinatesError, match=f"{coordinates}, line 2"):
        build_int_ext(coordinates=str(coordinates), source="fixture")
    assert issubclass(CoordinatesError, d4p.UsageError)


def test_a_fixture_that_is_not_a_votable_is_a_usage_error_before_the_run(tmp_path):
    fixture = tmp_path / "notes.txt"
    fixture.write_text("my notes, not a VOTable\n")
    with pytest.raises(d4p.UsageError) as excinfo:
        build_int_ext(source="fixture", fixture=str(fixture), output=str(tmp_path / "o.csv"))
    assert str(excinfo.value).startswith(
        f"int_ext: -p fixture: {fixture}: the answer is not a readable VOTable"
    )


@pytest.mark.parametrize("text", ["", "# only comments\n\n", "ra,dec\n"])
def test_a_coordinates_file_without_positions_is_a_usage_error(tmp_path, text):
    coordinates = tmp_path / "none.txt"
    coordinates.write_text(text)
    with pytest.raises(d4p.UsageError) as excinfo:
        build_int_ext(coordinates=str(coordinates), source="fixture", output=str(tmp_path / "o.csv"))
    assert str(excinfo.value) == (
        f"int_ext: -p coordinates={coordinates} holds no positions "
        "(one 'ra,dec' per line; '#' starts a comment)"
    )
    assert sorted(os.listdir(tmp_path)) == ["none.txt"]


def test_a_cone_answer_cut_at_the_row_limit_is_reported(tmp_path, cone_server):
    """The first position's answer ends with VizieR's QUERY_STATUS=OVERFLOW:
    the run warns, naming the service, the position and -p radius, and
    still writes the table."""
    from d4p_astro.errors import TruncatedAnswerWarning

    def cut(handler, body):
        body = body.replace(b"</TABLE>", b'</TABLE><INFO name="QUERY_STATUS" value="OVERFLOW"/>')
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server = cone_server([cut])
    with pytest.warns(TruncatedAnswerWarning) as warned:
        output, _ = run_int_ext(tmp_path, source="vizier", url=server.url, timeout=5.0,
                                instances=1)
    assert output.read_text().replace("\r\n", "\n") == EXPECTED_CSV
    [message] = [str(w.message) for w in warned if w.category is TruncatedAnswerWarning]
    assert message.startswith(f"{server.url} (position 1: ra=10.6847, dec=41.269): the service "
                              "cut its answer at its row limit (1 row; QUERY_STATUS=OVERFLOW)")
    assert message.endswith("search a smaller cone (-p radius=DEGREES)")
