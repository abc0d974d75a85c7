import pytest
from d4p_astro.coordinates import SHIPPED_COORDINATES, Position, read_coordinates
from d4p_astro.errors import AstroError, CoordinatesError


def test_shipped_file_has_thirteen_positions_numbered_from_one():
    positions = list(read_coordinates(SHIPPED_COORDINATES))
    assert len(positions) == 13
    assert positions[0] == Position(1, 10.6847, 41.2690)  # M31
    assert positions[-1] == Position(13, 150.1, 2.2)


def test_comments_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "coords.txt"
    path.write_text("# header\n\n 1.5 , -2.25  # a comment\n359.9,90\n")
    assert list(read_coordinates(path)) == [Position(1, 1.5, -2.25), Position(2, 359.9, 90.0)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("12.0", "expected 'ra,dec'"),
        ("12.0,3.0,4.0", "expected 'ra,dec'"),
        ("12h,3.0", "decimal degrees"),
        ("360.0,3.0", "ra 360.0 is outside [0, 360)"),
        ("12.0,-90.5", "dec -90.5 is outside [-90, 90]"),
        ("nan,0", "outside"),
    ],
)
def test_a_bad_line_names_the_file_and_line_number(tmp_path, line, message):
    path = tmp_path / "coords.txt"
    path.write_text(f"1.0,2.0\n# comment\n{line}\n")
    with pytest.raises(CoordinatesError) as excinfo:
        list(read_coordinates(path))
    assert f"{path}, line 3" in str(excinfo.value)
    assert message in str(excinfo.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AstroError, match=r"cannot read coordinates file .*nowhere\.txt"):
        list(read_coordinates(tmp_path / "nowhere.txt"))
