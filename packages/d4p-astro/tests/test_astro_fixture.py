import d4p
import pytest
from d4p_astro import build_int_ext
from d4p_astro.coordinates import SHIPPED_COORDINATES, read_coordinates
from d4p_astro.errors import VOTableError
from d4p_astro.fixture import (
    FIXTURE_PATH,
    SYNTHETIC_NOTE,
    FixtureCatalogue,
    generate,
    synthetic_rows,
    votable_bytes,
)
from d4p_astro.votable import nearest_galaxy, parse_galaxies


def test_shipped_fixture_is_what_the_generator_writes(tmp_path):
    assert generate(tmp_path / "f.vot").read_bytes() == FIXTURE_PATH.read_bytes()


def test_shipped_fixture_is_labelled_synthetic():
    text = FIXTURE_PATH.read_text()
    assert "SYNTHETIC TEST DATA" in text and "Not measurements of real galaxies" in text
    assert FIXTURE_PATH.name == "hyperleda_synthetic.vot"


def test_rows_round_trip_through_the_votable_reader_with_masked_cells():
    rows = synthetic_rows()
    catalogue = FixtureCatalogue()
    assert catalogue.rows == rows
    assert len(rows) == 17
    assert ("Sc", None) in [(r.mtype, r.logr25) for r in rows]
    assert (None, 0.6) in [(r.mtype, r.logr25) for r in rows]


def test_cone_returns_only_rows_within_the_radius_nearest_first():
    catalogue = FixtureCatalogue()
    m51 = next(p for p in read_coordinates(SHIPPED_COORDINATES) if p.count == 3)
    answer = catalogue.cone(m51.ra, m51.dec, 0.01)
    galaxies = parse_galaxies(answer, m51.ra, m51.dec, "fixture")
    assert [(g.mtype, g.logr25) for g in galaxies] == [("Sbc", 0.45), ("E-S0", 0.1)]
    assert 0.0017 < galaxies[0].separation < 0.0019
    assert 0.0063 < galaxies[1].separation < 0.0065
    assert SYNTHETIC_NOTE.encode() in answer


def test_a_wider_cone_finds_the_galaxy_outside_the_default_radius():
    catalogue = FixtureCatalogue()
    assert nearest_galaxy(catalogue.cone(150.1, 2.2, 0.01), 150.1, 2.2, "f") is None
    assert nearest_galaxy(catalogue.cone(150.1, 2.2, 0.06), 150.1, 2.2, "f").mtype == "Sa"


def test_votable_bytes_escapes_text():
    (row,) = synthetic_rows()[:1]
    data = votable_bytes([row._replace(mtype="S<a>")], "a & b")
    assert b"<TD>S&lt;a&gt;</TD>" in data and b"a &amp; b" in data
    assert nearest_galaxy(data, row.ra, row.dec, "t").mtype == "S<a>"


def test_a_missing_fixture_file_is_a_clear_error(tmp_path):
    with pytest.raises(VOTableError, match=r"cannot read fixture .*none\.vot: No such file"):
        FixtureCatalogue(tmp_path / "none.vot")


VIZIER_SAVED = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE ID="yCat_7237" name="VII/237">
<TABLE ID="VII_237_pgc" name="VII/237/pgc">
<FIELD name="PGC" ucd="meta.id;meta.main" datatype="int"/>
<FIELD name="RAJ2000" ucd="pos.eq.ra;meta.main" datatype="char" arraysize="11" unit="&quot;h:m:s&quot;"/>
<FIELD name="DEJ2000" ucd="pos.eq.dec;meta.main" datatype="char" arraysize="11" unit="&quot;d:m:s&quot;"/>
<FIELD name="MType" datatype="char" arraysize="5"/>
<FIELD name="logR25" datatype="float" unit="[-]"/>
<DATA><TABLEDATA>
<TR><TD>2557</TD><TD>00 42 44.33</TD><TD>+41 16 07.5</TD><TD>Sb</TD><TD>0.49</TD></TR>
<TR><TD>47404</TD><TD>13 29 52.7</TD><TD>+47 11 43</TD><TD>Sbc</TD><TD>0.45</TD></TR>
<TR><TD>9</TD><TD>05 35 17.3</TD><TD>-00 30 00</TD><TD>Sc</TD><TD>0.30</TD></TR>
</TABLEDATA></DATA>
</TABLE>
</RESOURCE>
</VOTABLE>
"""


def test_a_fixture_saved_from_vizier_with_sexagesimal_positions_is_searched(tmp_path):
    fixture = tmp_path / "saved.vot"
    fixture.write_text(VIZIER_SAVED)
    catalogue = FixtureCatalogue(fixture)
    assert [(r.pgc, r.ra, r.dec) for r in catalogue.rows] == [
        (2557, pytest.approx(10.684708333), pytest.approx(41.26875)),
        (47404, pytest.approx(202.4695833), pytest.approx(47.1952778)),
        (9, pytest.approx(83.8220833), -0.5),
    ]
    coordinates = tmp_path / "c.txt"
    coordinates.write_text("10.6847,41.269\n83.822,-0.5\n83.822,0.5\n")
    graph, inputs = build_int_ext(
        coordinates=str(coordinates), source="fixture", fixture=str(fixture),
        output=str(tmp_path / "o.csv"),
    )  # fmt: skip
    d4p.run(graph, inputs)
    assert (tmp_path / "o.csv").read_text().splitlines()[1:] == [
        "1,10.6847,41.269,Sb,0.49,3,0.6745",
        "2,83.822,-0.5,Sc,0.3,5,0.5082",  # k 0.0754, R**-0.74979 0.59571
        "3,83.822,0.5,,,,",
    ]


def test_a_fixture_with_positions_that_are_not_angles_is_a_usage_error(tmp_path):
    fixture = tmp_path / "bad.vot"
    fixture.write_text(VIZIER_SAVED.replace("05 35 17.3", "n/a"))
    with pytest.raises(d4p.UsageError) as excinfo:
        build_int_ext(source="fixture", fixture=str(fixture), output=str(tmp_path / "o.csv"))
    assert str(excinfo.value).startswith(
        f"int_ext: -p fixture: fixture {fixture}: column RAJ2000 holds values that are not angles"
    )
