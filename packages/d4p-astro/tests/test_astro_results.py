import os
import stat

import pytest
from d4p_astro.results import COLUMNS, ExtinctionRow, read_csv, write_csv

ROWS = [
    ExtinctionRow(2, 10.5, -3.25, "E", 0.05, -5, 0.0),
    ExtinctionRow(1, 202.4696, 47.1952, "Sbc", 0.45, 4, 0.7008859967338689),
    ExtinctionRow(3, 1.0, 2.0, None, None, None, None),
]


def test_rows_are_written_sorted_by_count_with_blank_unknowns(tmp_path):
    path = write_csv(ROWS, tmp_path / "out.csv")
    assert path.read_text().splitlines() == [
        ",".join(COLUMNS),
        "1,202.4696,47.1952,Sbc,0.45,4,0.7009",
        "2,10.5,-3.25,E,0.05,-5,0.0000",
        "3,1.0,2.0,,,,",
    ]


def test_read_csv_gives_the_rows_back(tmp_path):
    rows = read_csv(write_csv(ROWS, tmp_path / "out.csv"))
    assert rows == [ROWS[1]._replace(a_i=0.7009), ROWS[0], ROWS[2]]


def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("previous results\n")

    def rows_then_failure():
        yield ROWS[0]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_csv(rows_then_failure(), path)
    assert path.read_text() == "previous results\n"
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_the_csv_is_readable_by_others_like_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_csv(ROWS, tmp_path / "out.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
