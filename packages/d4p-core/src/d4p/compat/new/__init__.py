"""``dispel4py.new``: the process mappings, aggregates and monitoring wrappers."""
