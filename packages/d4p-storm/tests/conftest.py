"""The ``storm-harness`` mapping (the storm mapping's topology over the
multi-lang harness) is registered for the tests of this folder only."""

import d4p
import pytest
from d4p_storm.harness import HarnessMapping


class _HarnessPlugin:
    @d4p.hookimpl
    def d4p_register_mappings(self):
        return [HarnessMapping]


@pytest.fixture(autouse=True)
def storm_harness_mapping():
    pm = d4p.get_plugin_manager()
    plugin = _HarnessPlugin()
    pm.register(plugin, "storm-harness")
    yield "storm-harness"
    pm.unregister(plugin)
