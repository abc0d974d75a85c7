"""``dispel4py.examples``: the test PEs that dispel4py's tutorial imports."""
