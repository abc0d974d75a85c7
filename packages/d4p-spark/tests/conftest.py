"""One SparkContext per test module: starting Spark takes seconds."""

import d4p_spark
import pytest


@pytest.fixture(scope="module")
def spark():
    """A local[2] SparkContext with d4p's defaults, stopped after the module."""
    sc = d4p_spark.get_context("local[2]")
    yield sc
    d4p_spark.stop()
