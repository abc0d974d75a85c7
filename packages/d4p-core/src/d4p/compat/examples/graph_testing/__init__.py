"""``dispel4py.examples.graph_testing``: see :mod:`.testing_PEs`."""
