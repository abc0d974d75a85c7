import pytest
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
