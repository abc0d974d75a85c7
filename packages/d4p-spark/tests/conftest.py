"""One SparkContext per test module: starting Spark takes seconds."""

import d4p_spark
import pytest
from pyspark import SparkContext


def _stop_spark():
    d4p_spark.stop()
    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()


@pytest.fixture(scope="module")
def no_spark():
    """No SparkContext runs in this process: d4p's, or one a test left, is stopped."""
    _stop_spark()
    yield
    _stop_spark()


@pytest.fixture(scope="module")
def spark(no_spark):
    """A local[2] SparkContext with d4p's defaults, stopped after the module."""
    yield d4p_spark.get_context("local[2]")
