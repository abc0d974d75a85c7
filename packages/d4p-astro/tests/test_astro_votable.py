import io
import math
import warnings
from pathlib import Path

import astropy
import pytest
from d4p_astro.errors import TruncatedAnswerWarning, VOTableError
from d4p_astro.votable import Galaxy, nearest_galaxy, parse_galaxies, read_votable

ASTROPY_VOTABLES = Path(astropy.__file__).parent / "io" / "votable" / "tests" / "data"
"""Real VOTables shipped in astropy's test data (e.g. an IRSA error answer)."""


def votable(fields: str, rows: str, extra: str = "") -> bytes:
    return f"""<?xml version="1.0"?>
<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
 <RESOURCE type="results">{extra}
  <TABLE>{fields}
   <DATA><TABLEDATA>{rows}</TABLEDATA></DATA>
  </TABLE>
 </RESOURCE>
</VOTABLE>""".encode()


FIELDS = """
   <FIELD name="RAJ2000" ucd="pos.eq.ra;meta.main" datatype="double" unit="deg"/>
   <FIELD name="DEJ2000" ucd="pos.eq.dec;meta.main" datatype="double" unit="deg"/>
   <FIELD name="MType" datatype="char" arraysize="*"/>
   <FIELD name="logR25" datatype="float"/>"""


def test_rows_come_nearest_first_with_their_separation():
    data = votable(
        FIELDS,
        "<TR><TD>10.01</TD><TD>20.0</TD><TD>E</TD><TD>0.10</TD></TR>"
        "<TR><TD>10.0</TD><TD>20.001</TD><TD>Sbc</TD><TD>0.45</TD></TR>",
    )
    galaxies = parse_galaxies(data, 10.0, 20.0, "test.vot")
    assert [(g.mtype, g.logr25) for g in galaxies] == [("Sbc", 0.45), ("E", 0.10)]
    assert galaxies[0].separation == pytest.approx(0.001, rel=1e-6)
    assert galaxies[1].separation == pytest.approx(0.01 * 0.93969, rel=1e-4)  # cos(20 deg)


def test_single_precision_values_keep_their_decimal_form():
    data = votable(FIELDS, "<TR><TD>10</TD><TD>20</TD><TD>Sbc</TD><TD>0.45</TD></TR>")
    assert nearest_galaxy(data, 10.0, 20.0, "t").logr25 == 0.45


def test_masked_and_empty_cells_become_none():
    data = votable(
        FIELDS,
        "<TR><TD>10</TD><TD>20</TD><TD></TD><TD>0.3</TD></TR>"
        "<TR><TD>10</TD><TD>20.5</TD><TD>Sc</TD><TD></TD></TR>"
        "<TR><TD>10</TD><TD>21</TD><TD>  </TD><TD>NaN</TD></TR>",
    )
    assert [(g.mtype, g.logr25) for g in parse_galaxies(data, 10.0, 20.0, "t")] == [
        (None, 0.3),
        ("Sc", None),
        (None, None),
    ]


SEXAGESIMAL_FIELDS = """
   <FIELD name="RAJ2000" ucd="pos.eq.ra;meta.main" datatype="char" arraysize="*" unit="h:m:s"/>
   <FIELD name="DEJ2000" ucd="pos.eq.dec;meta.main" datatype="char" arraysize="*" unit="d:m:s"/>
   <FIELD name="MType" datatype="char" arraysize="*"/>
   <FIELD name="logR25" datatype="float"/>"""


def test_vizier_sexagesimal_positions_are_understood():
    fields = SEXAGESIMAL_FIELDS
    data = votable(
        fields,
        "<TR><TD>13 29 53.0</TD><TD>+47 11 43</TD><TD>SBc</TD><TD>0.1</TD></TR>"
        "<TR><TD>13 29 52.7</TD><TD>+47 11 43</TD><TD>Sbc</TD><TD>0.2</TD></TR>",
    )
    nearest = nearest_galaxy(data, 202.4696, 47.1952, "t")  # 13 29 52.7 +47 11 42.7
    assert nearest.mtype == "Sbc"
    assert nearest.separation == pytest.approx(0.0, abs=2e-4)


def test_without_positions_vizier_distance_column_orders_rows():
    fields = """
   <FIELD name="_r" datatype="double" unit="arcmin"/>
   <FIELD name="MType" datatype="char" arraysize="*"/>
   <FIELD name="logR25" datatype="float"/>"""
    data = votable(
        fields,
        "<TR><TD>0.6</TD><TD>E</TD><TD>0.1</TD></TR><TR><TD>0.3</TD><TD>Sb</TD><TD>0.2</TD></TR>",
    )
    assert nearest_galaxy(data, 0.0, 0.0, "t") == Galaxy("Sb", 0.2, pytest.approx(0.005))


def test_without_any_distance_rows_keep_their_order():
    fields = (
        '<FIELD name="MType" datatype="char" arraysize="*"/><FIELD name="logR25" datatype="float"/>'
    )
    data = votable(fields, "<TR><TD>E</TD><TD>0.1</TD></TR><TR><TD>Sb</TD><TD>0.2</TD></TR>")
    assert parse_galaxies(data, 0.0, 0.0, "t") == [Galaxy("E", 0.1, None), Galaxy("Sb", 0.2, None)]


def test_column_names_match_whatever_their_case():
    fields = (
        '<FIELD name="mtype" datatype="char" arraysize="*"/><FIELD name="LOGR25" datatype="float"/>'
    )
    data = votable(fields, "<TR><TD>Sd</TD><TD>0.7</TD></TR>")
    assert nearest_galaxy(data, 0.0, 0.0, "t") == Galaxy("Sd", 0.7, None)


def test_an_empty_answer_has_no_nearest_galaxy():
    assert nearest_galaxy(votable(FIELDS, ""), 10.0, 20.0, "t") is None


@pytest.mark.parametrize("missing", ["MType", "logR25"])
def test_a_missing_column_is_an_error_naming_it_and_the_source(missing):
    fields = FIELDS.replace(f'name="{missing}"', 'name="Other"')
    data = votable(fields, "<TR><TD>10</TD><TD>20</TD><TD>E</TD><TD>0.1</TD></TR>")
    with pytest.raises(VOTableError) as excinfo:
        parse_galaxies(data, 10.0, 20.0, "http://example.invalid/cone")
    message = str(excinfo.value)
    assert message.startswith(
        "http://example.invalid/cone: the VOTable has no " + missing + " column"
    )
    assert "RAJ2000, DEJ2000" in message and "VII/237" in message


def test_a_query_status_error_is_reported_with_the_service_message():
    data = votable(
        FIELDS, "", extra='<INFO name="QUERY_STATUS" value="ERROR">Unknown catalogue</INFO>'
    )
    with pytest.raises(VOTableError, match="svc: the service reports an error: Unknown catalogue"):
        read_votable(data, "svc")


def test_a_cone_search_error_param_is_reported():
    data = votable(
        FIELDS, "", extra='<PARAM name="Error" datatype="char" arraysize="*" value="SR too big"/>'
    )
    with pytest.raises(VOTableError, match="SR too big"):
        read_votable(data, "svc")


def test_an_html_page_is_not_a_votable():
    with pytest.raises(
        VOTableError, match=r"svc: the answer is not a readable VOTable .*'<html><body>Maintenance"
    ):
        read_votable(b"<html><body>Maintenance</body></html>", "svc")


def test_a_votable_without_table_is_an_error():
    data = (
        b'<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE/></VOTABLE>'
    )
    with pytest.raises(VOTableError, match="svc: the VOTable holds no table"):
        read_votable(data, "svc")


VIZIER_FIELDS = """
   <FIELD name="_r" ucd="pos.angDistance" datatype="double" unit="deg"/>
   <FIELD name="_RAJ2000" ucd="pos.eq.ra" datatype="double" unit="deg"/>
   <FIELD name="_DEJ2000" ucd="pos.eq.dec" datatype="double" unit="deg"/>
   <FIELD name="RAJ2000" ucd="pos.eq.ra;meta.main" datatype="char" arraysize="11" unit="h:m:s"/>
   <FIELD name="DEJ2000" ucd="pos.eq.dec;meta.main" datatype="char" arraysize="11" unit="d:m:s"/>
   <FIELD name="MType" ucd="src.morph.type" datatype="char" arraysize="5"/>
   <FIELD name="logR25" ucd="phys.size.axisRatio" datatype="float" unit="[-]"/>"""


def vizier_rows(*rows):
    return "".join("<TR>" + "".join(f"<TD>{c}</TD>" for c in r) + "</TR>" for r in rows)


def test_a_query_status_error_after_the_rows_is_reported():
    data = votable(
        VIZIER_FIELDS,
        vizier_rows(("", "", "", "00 42 44.3", "+41 16 08", "Sb", "0.49")),
    ).replace(b"</DATA>", b'</DATA><INFO name="QUERY_STATUS" value="ERROR">query timed out</INFO>')
    with pytest.raises(VOTableError, match="svc: the service reports an error: query timed out"):
        nearest_galaxy(data, 10.6847, 41.269, "svc")


def test_an_info_named_error_as_irsa_writes_it_is_reported():
    data = (ASTROPY_VOTABLES / "irsa-nph-error.xml").read_bytes()
    with pytest.raises(VOTableError) as excinfo:
        nearest_galaxy(data, 10.6847, 41.269, "svc")
    assert str(excinfo.value) == (
        'svc: the service reports an error: "Either wrong or missing coordinate/object name."'
    )


def test_the_table_with_mtype_is_read_when_another_table_comes_first():
    other = (
        '<RESOURCE name="meta"><TABLE><FIELD name="a" datatype="int"/>'
        "<DATA><TABLEDATA><TR><TD>1</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE>"
    )
    data = votable(FIELDS, "<TR><TD>10</TD><TD>20</TD><TD>Sbc</TD><TD>0.45</TD></TR>")
    data = data.replace(
        b' <RESOURCE type="results">', other.encode() + b'<RESOURCE type="results">'
    )
    assert nearest_galaxy(data, 10.0, 20.0, "t") == Galaxy("Sbc", 0.45, 0.0)


@pytest.mark.parametrize(("unit", "ra"), [("h", 10.6847 / 15), ("rad", math.radians(10.6847))])
def test_a_decimal_ra_column_is_read_in_its_unit(unit, ra):
    fields = FIELDS.replace(
        'datatype="double" unit="deg"/>', f'datatype="double" unit="{unit}"/>', 1
    )
    rows = (  # the galaxy at the position comes second
        f"<TR><TD>{ra * 1.01!r}</TD><TD>41.269</TD><TD>E</TD><TD>0.05</TD></TR>"
        f"<TR><TD>{ra!r}</TD><TD>41.269</TD><TD>Sb</TD><TD>0.49</TD></TR>"
    )
    (first, second) = parse_galaxies(votable(fields, rows), 10.6847, 41.269, "t")
    assert first.mtype == "Sb" and first.separation == pytest.approx(0.0, abs=1e-9)
    assert second.separation == pytest.approx(0.106847 * math.cos(math.radians(41.269)), rel=1e-3)


def test_vizier_decimal_positions_come_before_its_text_ones_and_minus_zero_is_south():
    rows = vizier_rows(
        ("0.5", "", "", "05 35 17.3", "+00 30 00", "E", "0.05"),
        ("0.0", "", "", "05 35 17.3", "-00 30 00", "Sc", "0.30"),
        ("", "", "", "", "", "Sd", "0.60"),  # VizieR leaves a cell empty: position unknown
    )
    galaxies = parse_galaxies(votable(VIZIER_FIELDS, rows), 83.82208, -0.5, "t")
    assert [g.mtype for g in galaxies] == ["Sc", "E", "Sd"]
    assert galaxies[0].separation == pytest.approx(0.0, abs=1e-5)
    assert galaxies[1].separation == pytest.approx(1.0, abs=1e-5)
    assert galaxies[2].separation is None
    decimal = vizier_rows(
        ("", "83.8", "-0.5", "05 35 17.3", "+00 30 00", "E", "0.05"),
        ("", "83.82208", "-0.5", "05 35 17.3", "+00 30 00", "Sc", "0.30"),
    )
    assert [
        g.mtype for g in parse_galaxies(votable(VIZIER_FIELDS, decimal), 83.82208, -0.5, "t")
    ] == ["Sc", "E"]


@pytest.mark.parametrize("serialization", ["binary", "binary2"])
def test_binary_answers_read_as_their_tabledata_form(serialization):
    from astropy.io.votable import parse

    rows = vizier_rows(
        ("", "", "", "00 42 44.3", "+41 16 08", "Sb", "0.49"),
        ("", "", "", "00 42 50.0", "+41 16 08", "", ""),
        ("", "", "", "00 42 55.0", "+41 16 08", "Sc", "NaN"),
    )
    data = votable(VIZIER_FIELDS, rows)
    document = parse(io.BytesIO(data))
    document.get_first_table().format = serialization
    out = io.BytesIO()
    document.to_xml(out)
    assert b"<" + serialization.upper().encode() in out.getvalue()
    tabledata = parse_galaxies(data, 10.6847, 41.269, "t")
    assert parse_galaxies(out.getvalue(), 10.6847, 41.269, "t") == tabledata
    assert [(g.mtype, g.logr25) for g in tabledata] == [("Sb", 0.49), (None, None), ("Sc", None)]


def test_ra_and_dec_marked_main_unevenly_still_give_distances():
    fields = FIELDS.replace('ucd="pos.eq.ra;meta.main"', 'ucd="pos.eq.ra"')
    rows = (
        "<TR><TD>10.01</TD><TD>20</TD><TD>E</TD><TD>0.05</TD></TR>"
        "<TR><TD>10</TD><TD>20</TD><TD>Sb</TD><TD>0.49</TD></TR>"
    )
    galaxies = parse_galaxies(votable(fields, rows), 10.0, 20.0, "t")
    assert [g.mtype for g in galaxies] == ["Sb", "E"]
    assert galaxies[1].separation == pytest.approx(0.01 * math.cos(math.radians(20)), rel=1e-6)


def test_sexagesimal_text_is_read_in_its_columns_unit():
    fields = SEXAGESIMAL_FIELDS.replace('unit="h:m:s"', 'unit="deg"')
    rows = (  # RA in degrees, minutes and seconds: 202 28 10.6 is 13 29 52.7 in hours
        "<TR><TD>13 29 52.7</TD><TD>+47 11 43</TD><TD>E</TD><TD>0.05</TD></TR>"
        "<TR><TD>202 28 10.6</TD><TD>+47 11 43</TD><TD>Sbc</TD><TD>0.45</TD></TR>"
    )
    (nearest, far) = parse_galaxies(votable(fields, rows), 202.4696, 47.1952, "t")
    assert nearest.mtype == "Sbc" and nearest.separation == pytest.approx(0.0, abs=1e-4)
    assert far.separation > 80  # 13.49 deg of RA, not 202.47


def test_an_answer_without_a_table_and_without_error_has_no_galaxy():
    data = b"""<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<INFO name="QUERY_STATUS" value="OK"/>
<RESOURCE ID="yCat_7237" name="VII/237">
  <INFO name="matches" value="0">matching records</INFO>
</RESOURCE>
</VOTABLE>"""
    assert nearest_galaxy(data, 150.1, 2.2, "svc") is None
    with pytest.raises(VOTableError, match="svc: the VOTable holds no table"):
        read_votable(data, "svc")  # a fixture must hold one


def test_an_answer_cut_at_the_row_limit_is_reported_with_what_to_do():
    """VizieR ends an answer cut at its row limit with QUERY_STATUS=OVERFLOW
    after the rows; it was ignored, and the 'nearest' galaxy silently came
    from a partial list. Now it warns naming the answer and the cone to shrink."""
    rows = vizier_rows(("0.004", "10.6847", "41.273", "00 42 44.3", "+41 16 23", "Sb", "0.49"),
                       ("0.002", "10.6847", "41.271", "00 42 44.3", "+41 16 16", "Sc", "0.30"))
    whole = votable(VIZIER_FIELDS, rows)
    cut = whole.replace(b"</DATA>", b'</DATA><INFO name="QUERY_STATUS" value="OVERFLOW">'
                                    b"truncated result (maxtup=2)</INFO>")
    with pytest.warns(TruncatedAnswerWarning) as warned:
        galaxy = nearest_galaxy(cut, 10.6847, 41.269, "svc (position 1: ra=10.6847, dec=41.269)")
    assert galaxy.mtype == "Sc"
    [message] = [str(w.message) for w in warned]
    assert message == (
        "svc (position 1: ra=10.6847, dec=41.269): the service cut its answer at its row limit "
        "(2 rows; QUERY_STATUS=OVERFLOW: truncated result (maxtup=2)): the galaxy nearest to the "
        "position may be among the rows left out; search a smaller cone (-p radius=DEGREES)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nearest_galaxy(whole, 10.6847, 41.269, "svc").mtype == "Sc"
