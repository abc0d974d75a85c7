import pytest
from d4p_astro.errors import VOTableError
from d4p_astro.votable import Galaxy, nearest_galaxy, parse_galaxies, read_votable


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


def test_vizier_sexagesimal_positions_are_understood():
    fields = """
   <FIELD name="RAJ2000" ucd="pos.eq.ra;meta.main" datatype="char" arraysize="*" unit="h:m:s"/>
   <FIELD name="DEJ2000" ucd="pos.eq.dec;meta.main" datatype="char" arraysize="*" unit="d:m:s"/>
   <FIELD name="MType" datatype="char" arraysize="*"/>
   <FIELD name="logR25" datatype="float"/>"""
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
