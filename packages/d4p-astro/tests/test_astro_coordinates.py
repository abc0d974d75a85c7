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
        ("12x,3.0", "decimal degrees or sexagesimal"),
        ("10.5,abc", "decimal degrees or sexagesimal"),
        ("1_0.5,3.0", "decimal degrees or sexagesimal"),
        ("25 00 00,3.0", "'hours' was found ('25.0'); must be in the range [0,24)"),
        ("10 30 60,3.0", "'second' was found to be '60'"),
        ("10 75 00,3.0", "'minute' was found ('75')"),
        ("24h00m00s,3.0", "'hour' was found to be '24.0'"),
        ("-01:00:00,3.0", "ra -01:00:00 is outside [0, 360)"),
        ("10.0,-90 30 00", "dec -90 30 00 is outside [-90, 90]"),
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


def _read(tmp_path, text, name="coords.txt"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return list(read_coordinates(path))


def _astropy(ra, dec):
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    coord = SkyCoord(ra, dec, unit=(u.hourangle, u.deg))
    return coord.ra.degree, coord.dec.degree


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff10.6847,41.269\r\n\r\n-0.0,0\r\n",  # Excel's UTF-8: BOM, CRLF, empty line
        "10.6847\t41.269\n-0.0\t0\n",  # TSV
        "10.6847 41.269\n  -0.0   0  \n",  # blank-separated
        "10.6847;41.269\n-0.0;0\n",  # semicolons
        "ra;dec\n10,6847;41,269\n-0,0;0\n",  # a European spreadsheet: decimal commas
        "10,6847\t41,269\n-0,0\t0\n",
        "10.6847,41.269,\n-0.0,0,,\n",  # trailing empty cells of a spreadsheet
        '"10.6847","41.269"\n"-0.0","0"\n',  # quoted CSV cells
        "ra,dec\n10.6847,41.269\n-0.0,0\n",  # a header
        "Name\tRA_ICRS\tDE_ICRS\tz\nM31\t10.6847\t41.269\t-0.001\nfield\t-0.0\t0\tnan\n",
    ],
)
def test_files_as_users_keep_them_are_read(tmp_path, text):
    positions = _read(tmp_path, text)
    assert positions == [Position(1, 10.6847, 41.269), Position(2, 0.0, 0.0)]
    assert str(positions[1]) == "Position(count=2, ra=0.0, dec=0.0)"  # not -0.0


def test_excels_unicode_text_export_utf16_is_read(tmp_path):
    text = "ra\tdec\r\n10,6847\t41,269\r\n00:42:44.3\t\u221200:30:00\r\n"
    positions = _read(tmp_path, text.encode("utf-16"))
    assert positions == [Position(1, 10.6847, 41.269), Position(2, *_astropy("00:42:44.3", "-0:30"))]


def test_sexagesimal_ra_is_in_hours_and_minus_zero_dec_keeps_its_sign(tmp_path):
    lines = [
        ("00:42:44.3", "+41:16:09"),
        ("12 30 49.42", "+12 23 28.0"),
        ("12h00m00s", "-00d30m00s"),
        ("05 35 17.3", "-00 30 00"),
        ("23:59:59.9", "-0:00:01"),
        ("03 19 48.2", "\u221219 24 28"),  # a typographic minus sign
    ]
    text = "".join(f"{ra},{dec}\n" for ra, dec in lines)
    positions = _read(tmp_path, text)
    expected = [_astropy(ra, dec.replace("\u2212", "-")) for ra, dec in lines]
    assert [(p.ra, p.dec) for p in positions] == expected
    assert positions[2].dec == -0.5 and positions[3].dec == -0.5
    assert positions[4].dec == pytest.approx(-1 / 3600)


def test_blank_separated_sexagesimal_fields_are_ra_then_dec(tmp_path):
    positions = _read(tmp_path, "00 42 44.3 +41 16 09\n05 35 17.3 -00 30 00\n")
    assert [(p.ra, p.dec) for p in positions] == [
        _astropy("00 42 44.3", "+41 16 09"),
        _astropy("05 35 17.3", "-00 30 00"),
    ]
    assert positions[1].dec == -0.5


def test_a_header_picks_the_columns_and_ra_in_decimal_hours(tmp_path):
    positions = _read(tmp_path, "id,RAh,DEdeg\n7,0.7123,-0.5\n")
    assert positions == [Position(1, 0.7123 * 15, -0.5)]


def test_a_results_csv_can_be_read_back_as_coordinates(tmp_path):
    text = "count,ra,dec,MType,logR25,T,A_i\n1,10.6847,41.269,Sb,0.49,3,0.6745\n13,150.1,2.2,,,,\n"
    assert _read(tmp_path, text) == [Position(1, 10.6847, 41.269), Position(2, 150.1, 2.2)]


def test_duplicates_are_kept_as_positions_of_their_own(tmp_path):
    assert _read(tmp_path, "10,20\n10,20\n") == [Position(1, 10.0, 20.0), Position(2, 10.0, 20.0)]


def _error(tmp_path, text):
    """The message of the `CoordinatesError` that reading `text` raises."""
    with pytest.raises(CoordinatesError) as excinfo:
        _read(tmp_path, text)
    return str(excinfo.value)


def test_a_line_short_of_the_header_columns_names_file_line_and_header(tmp_path):
    assert _error(tmp_path, "name ra dec\nM31 10.5 41.2\nM33 23.4\n") == (
        f"{tmp_path / 'coords.txt'}, line 3: expected 3 columns as in the header on line 1, "
        "got 2: 'M33 23.4'"
    )


def test_a_file_that_is_not_utf8_is_a_one_line_error_naming_file_and_line(tmp_path):
    assert _error(tmp_path, b"10,20\n# caf\xe9 au lait\n30,40\n") == (
        f"{tmp_path / 'coords.txt'}, line 2: not UTF-8 text (byte 0xe9); "
        "save the coordinates file as UTF-8"
    )


def test_a_header_without_ra_and_dec_is_an_error_on_its_line(tmp_path):
    message = _error(tmp_path, "# positions\nx,y\n10,20\n")
    assert message.startswith(f"{tmp_path / 'coords.txt'}, line 2: ra and dec must be decimal")


def test_the_first_lines_separator_is_the_files_so_notes_may_hold_commas(tmp_path):
    text = "name\tra\tdec\tnote\nM31\t10.6847\t41.269\tbig, bright\nM33\t23.4621\t30.6599\t\n"
    assert _read(tmp_path, text) == [Position(1, 10.6847, 41.269), Position(2, 23.4621, 30.6599)]
