"""The spark mapping on a local SparkContext: outputs, options, failures and
code that only the driver can import."""

import importlib.util
import os
import subprocess
import sys
import threading

import d4p
import pytest
from d4p.examples import pipeline, wordcount, wordcount_plain

pytestmark = pytest.mark.usefixtures("spark")


def test_wordcount_gives_the_same_top_words_as_simple():
    graph, inputs = wordcount(words=5_000, counters=3)
    want = d4p.run(graph, inputs)
    graph, inputs = wordcount(words=5_000, counters=3)
    got = d4p.run(graph, inputs, mapping="spark")
    assert list(got.values()) == list(want.values())
    assert list(got.summary.units.values()) == list(want.summary.units.values())
    assert list(got.summary.units.values())[:2] == [1, 5_000]  # producer, count's partial


def test_the_context_has_d4p_defaults(spark):
    conf = spark.getConf()
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.ui.showConsoleProgress") == "false"
    assert spark.uiWebUrl is None
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"


def test_progress_is_reported_with_units_per_pe():
    seen = []
    graph, inputs = pipeline(300)
    result = d4p.run(graph, inputs, mapping="spark", progress=seen.append)
    assert list(result.values()) == [{"output": [2 * sum(range(300))]}]
    assert seen and list(seen[-1].values()) == [1, 300, 300]


def test_small_batches_give_the_same_outputs():
    graph, inputs = wordcount(words=2_000, counters=2)
    want = d4p.run(graph, inputs)
    graph, inputs = wordcount(words=2_000, counters=2)
    assert list(d4p.run(graph, inputs, mapping="spark", batch_size=7).values()) == \
        list(want.values())


def test_a_bad_batch_size_names_the_option():
    graph, inputs = pipeline(3)
    with pytest.raises(d4p.UsageError, match="option 'batch_size' of mapping 'spark'"):
        d4p.run(graph, inputs, mapping="spark", batch_size=0)


def test_another_master_than_the_running_context_is_refused(spark):
    graph, inputs = pipeline(3)
    with pytest.raises(d4p.UsageError, match=r"master 'local\[2\]' is already running.*cannot use master 'local\[3\]'"):
        d4p.run(graph, inputs, mapping="spark", master="local[3]")
    # the running one, named explicitly, is fine
    assert d4p.run(graph, inputs, mapping="spark", master="local[2]")


def test_a_setting_the_running_context_lacks_is_refused():
    graph, inputs = pipeline(3)
    with pytest.raises(d4p.UsageError, match="spark.executor.memory=3g cannot change it"):
        d4p.run(graph, inputs, mapping="spark", conf=["spark.executor.memory=3g"])
    with pytest.raises(d4p.UsageError, match="takes KEY=VALUE"):
        d4p.run(graph, inputs, mapping="spark", conf=["spark.executor.memory"])


# -- failures ------------------------------------------------------------------------------

BIG_OUTPUTS = """
import numpy as np
import d4p


class Arrays(d4p.ProducerPE):
    def _process(self, inputs):
        for i in range(8):
            self.write("output", np.full(131072, float(i)))  # 1 MiB each


graph = d4p.WorkflowGraph()
graph.add(Arrays())
"""

CRASH = """
import os
import d4p


class Crash(d4p.IterativePE):
    def _process(self, x):
        os._exit(3)


@d4p.producer
def numbers(n=3):
    yield from range(n)


graph = d4p.WorkflowGraph()
graph.connect(numbers(), "output", Crash(), "input")
"""


ARRAYS = """
import numpy as np
import d4p


@d4p.producer
def arrays():
    for i in range({n}):
        yield np.full(8_000_000, i, dtype=np.float64)


graph = d4p.WorkflowGraph()
graph.add(arrays())
"""


@pytest.mark.parametrize("workflow, conf, said", [
    (BIG_OUTPUTS, "spark.driver.maxResultSize=1m", [
        "d4p: error: a Spark task failed running PE Arrays0: Total size of serialized results",
        "is bigger than spark.driver.maxResultSize (1024.0 KiB)",
        "raise the limit (--conf spark.driver.maxResultSize=4g)"]),
    (CRASH, "spark.app.name=crash", [
        "d4p: error: a Spark Python worker died (os._exit, a crash or out of memory) running "
        "PE numbers0, Crash1: Python worker exited unexpectedly (crashed)"]),
    (CRASH, "spark.driver.memory=200m", [
        "d4p: error: Spark did not start for master 'local[*]': [INVALID_DRIVER_MEMORY.",
        "Insufficient driver memory", "; check the master URL and the 'conf' settings"]),
    ('from d4p.testing.workflows import unpicklable\n\ngraph = unpicklable("between")\n',
     "spark.app.name=unpicklable", [  # PySpark's worker printed its traceback first
         "d4p: error: PE Numbers0, Locked1, Unlocked2: one of them wrote data that cannot be "
         "sent to another Spark task (TypeError: cannot pickle '_thread.lock' object)"]),
    (ARRAYS.format(n=12), "spark.driver.memory=600m", [  # 768 MB of results
        "d4p: error: a Spark task failed running PE arrays0: ",  # heap space, or context stopped
        "Spark's JVM ran out of memory: give it more with --conf spark.driver.memory=4g"]),
    (ARRAYS.format(n=36), "spark.driver.maxResultSize=0", [  # 2.3 GB in one record
        "d4p: error: a Spark task failed running PE arrays0: ", "A Spark record holds at "
        "most 2 GiB, and the outputs of the unconnected ports of one task travel to the "
        "driver in one: write large results to files"]),
], ids=["results over maxResultSize", "a worker that dies", "a context that cannot start",
        "unpicklable data", "driver out of memory", "results over 2 GiB"])
def test_a_failed_spark_run_says_only_d4p_s_one_line(tmp_path, workflow, conf, said):
    """Spark's own ERROR lines and Java traces for the failure (TaskSetManager,
    SparkContext) would only precede d4p's line: none is printed."""
    (tmp_path / "failing.py").write_text(workflow)
    done = subprocess.run(
        [sys.executable, "-m", "d4p", "run", "failing.py", "--mapping", "spark", "--conf", conf],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    (line,) = done.stderr.splitlines()  # not even the JVM's note on an incubator module
    assert all(part in line for part in said), line


def test_spark_log_level_brings_spark_s_own_lines_back(tmp_path):
    (tmp_path / "failing.py").write_text(CRASH)
    done = subprocess.run(
        [sys.executable, "-m", "d4p", "run", "failing.py", "--mapping", "spark", "--conf",
         "spark.log.level=WARN"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    lines = done.stderr.splitlines()
    assert [t for t in lines if "ERROR TaskSetManager: Task 0 in stage 0.0 failed" in t]
    assert lines[-1].startswith("d4p: error: a Spark Python worker died")


class Divide(d4p.IterativePE):
    def _process(self, x):
        return 10 // (x - 5)


class FailAtEnd(d4p.GenericPE):
    def __init__(self):
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")

    def process(self, inputs):
        pass

    def postprocess(self):
        raise RuntimeError("no good at the end")


def _numbers(n):
    @d4p.producer
    def numbers(n=n):
        yield from range(n)
    return numbers()


def test_a_pe_error_in_a_later_stage_names_pe_port_data_and_traceback():
    graph = d4p.WorkflowGraph()
    source, divide, end = _numbers(8), Divide(), FailAtEnd()
    divide.numprocesses = 3
    graph.connect(source, "output", divide, "input")
    graph.connect(divide, "output", end, "input")
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(graph, {source: 1}, mapping="spark")
    err = info.value
    # the first stage to fail wins: Divide on 5, not FailAtEnd's postprocess
    assert (err.pe, err.port, err.data) == (divide.id, "input", "5")
    assert "ZeroDivisionError: integer division or modulo by zero" in str(err)
    assert "Traceback (most recent call last)" in err.traceback
    assert "return 10 // (x - 5)" in err.traceback
    assert "java" not in str(err).lower()


def test_an_error_in_postprocess_is_named():
    graph = d4p.WorkflowGraph()
    source, end = _numbers(3), FailAtEnd()
    graph.connect(source, "output", end, "input")
    with pytest.raises(d4p.WorkflowFailed, match=f"PE '{end.id}' .*in postprocess.*"
                       "RuntimeError: no good at the end") as info:
        d4p.run(graph, {source: 1}, mapping="spark")
    assert 'raise RuntimeError("no good at the end")' in info.value.traceback


class Die(d4p.IterativePE):
    def _process(self, x):
        if x == 2:
            os._exit(3)
        return x


def test_a_dying_worker_fails_the_run_without_retries(spark):
    graph = d4p.WorkflowGraph()
    source, die = _numbers(5), Die()
    die.numprocesses = 2
    graph.connect(source, "output", die, "input")
    with pytest.raises(d4p.WorkflowFailed, match="a Spark Python worker died") as info:
        d4p.run(graph, {source: 1}, mapping="spark")
    # the job runs the source and Die; the one that died cannot be told apart
    assert f"running PE {source.id}, {die.id}: Python worker exited unexpectedly" \
        in str(info.value)
    # the context survives for the next run
    graph, inputs = pipeline(4)
    assert list(d4p.run(graph, inputs, mapping="spark").values()) == [{"output": [12]}]


class HoldsALock(d4p.IterativePE):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def _process(self, x):
        return x


def test_a_pe_that_cannot_be_shipped_is_named():
    graph = d4p.WorkflowGraph()
    source, bad = _numbers(2), HoldsALock()
    graph.connect(source, "output", bad, "input")
    with pytest.raises(d4p.UsageError, match=f"PE '{bad.id}' attribute 'lock' \\(lock\\) cannot "
                       r"be sent to another process \(TypeError: cannot pickle '_thread.lock' "
                       r"object\); create open files"):
        d4p.run(graph, {source: 1}, mapping="spark")


# -- code only the driver can import -------------------------------------------------------

WORKFLOW = '''
import d4p
import {helper}

class Shift(d4p.IterativePE):
    def _process(self, x):
        return {helper}.shift(x)

def build():
    graph = d4p.WorkflowGraph()
    shift = Shift()
    shift.numprocesses = 2

    @d4p.producer
    def numbers(n=6):
        yield from range(n)

    graph.connect(numbers(), "output", shift, "input")
    return graph
'''


def load_workflow(folder, name, helper):
    """Load a workflow file the way ``d4p run FILE`` does: from a path that
    the Spark workers do not have on theirs."""
    (folder / f"{helper}.py").write_text("def shift(x):\n    return x + 100\n")
    path = folder / f"{name}.py"
    path.write_text(WORKFLOW.format(helper=helper))
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def test_a_workflow_file_and_its_helper_module_travel_by_value(tmp_path):
    module = load_workflow(tmp_path, "spark_wf_local", "spark_wf_local_helper")
    result = d4p.run(module.build(), mapping="spark")
    (outputs,) = result.values()
    assert sorted(outputs["output"]) == [100, 101, 102, 103, 104, 105]


UNITS_OF_ITS_OWN = '''
import d4p

class Point:
    def __init__(self, x):
        self.x = x

class ToPoint(d4p.IterativePE):
    def _process(self, x):
        return Point(x)

class SumX(d4p.GenericPE):
    def __init__(self):
        super().__init__(numprocesses=2)
        self._add_input("input", grouping="all")
        self._add_output("output")
        self.total = 0

    def process(self, inputs):
        self.total += inputs["input"].x

    def postprocess(self):
        self.write("output", self.total)
'''


@pytest.mark.parametrize("all_grouping", ["broadcast", "shuffle"])
def test_units_of_a_class_of_the_workflow_file_reach_an_all_input(tmp_path, all_grouping):
    name = f"spark_wf_points_{all_grouping}"
    path = tmp_path / f"{name}.py"
    path.write_text(UNITS_OF_ITS_OWN)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    graph = d4p.WorkflowGraph()
    source, to_point, total = _numbers(6), module.ToPoint(), module.SumX()
    to_point.numprocesses = 2
    graph.connect(source, "output", to_point, "input")
    graph.connect(to_point, "output", total, "input")
    result = d4p.run(graph, {source: 1}, mapping="spark", all_grouping=all_grouping)
    assert result[total.id] == {"output": [15, 15]}


# -- monitoring ----------------------------------------------------------------------------

class Recorder:
    """A tracer, as a monitoring plugin gives one: keeps what it is told."""

    def __init__(self):
        self.events, self.finished = [], None

    def run_started(self, run):
        self.run = run

    def record(self, events):
        self.events += events

    def run_finished(self, run, seconds, error):
        self.finished = (seconds, error)


class RecorderPlugin:
    def __init__(self):
        self.tracer = Recorder()

    @d4p.hookimpl
    def d4p_make_tracer(self, run):
        return self.tracer


def test_a_monitored_run_ships_the_workers_timing_events_to_the_tracer():
    plugin = RecorderPlugin()
    manager = d4p.get_plugin_manager()
    manager.register(plugin, name="spark-test-recorder")
    try:
        graph, inputs = wordcount_plain(words=3_000, counters=2)
        result = d4p.run(graph, inputs, mapping="spark", monitor=True)
    finally:
        manager.unregister(plugin)
    tracer = plugin.tracer
    assert tracer.finished[1] is None and tracer.run.mapping == "spark"
    calls = {}
    for event in tracer.events:
        if event["kind"] == "instance":
            calls[event["pe"]] = calls.get(event["pe"], 0) + event["calls"]
    counter, collector = list(result.summary.units)[1:]
    assert calls[counter] == 3_000
    assert calls[collector] == result.summary.units[collector]
    instances = {(e["pe"], e["instance"]) for e in tracer.events if e["kind"] == "instance"}
    assert {(counter, 0), (counter, 1)} <= instances
    assert any(e["kind"] == "edge" and e["dst_pe"] == counter and e["units"] for e in
               tracer.events)


class FailingSource(d4p.ProducerPE):
    def _process(self, inputs):
        self.write("output", 1)
        raise OSError("the station file is gone")


def test_a_failing_source_read_by_two_pes_stops_the_run_before_them():
    graph = d4p.WorkflowGraph()
    source, left, right = FailingSource(), Divide(), Divide()
    graph.connect(source, "output", left, "input")
    graph.connect(source, "output", right, "input")
    with pytest.raises(d4p.WorkflowFailed, match=f"PE '{source.id}' .*in iteration 0.*"
                       "OSError: the station file is gone") as info:
        d4p.run(graph, {source: 1}, mapping="spark")
    assert info.value.pe == source.id and info.value.port is None


def test_a_usage_error_raised_by_a_pe_is_one_line_and_exit_2(tmp_path):
    """The PE's d4p.UsageError comes back pickled in its task's summary, and
    d4p run says it in one line, as for a mistake found before the run."""
    (tmp_path / "wf.py").write_text("from d4p.testing.workflows import user_mistake\n\n"
                                    "graph, _ = user_mistake()\n")
    done = subprocess.run([sys.executable, "-m", "d4p", "run", "wf.py", "-m", "spark",
                           "-o", "out.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = [t for t in done.stderr.splitlines() if t.startswith("d4p:")]  # and Java's warnings
    assert line == ("d4p: error: PE 'CheckRate2': station 7 is sampled at 25 Hz, the others at "
                    "20 Hz: resample it to 20 Hz")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("where", ["between", "result"])
def test_data_that_cannot_be_pickled_is_a_usage_error_naming_the_job_s_pes(where):
    from d4p.testing.workflows import unpicklable

    with pytest.raises(d4p.UsageError) as info:
        d4p.run(unpicklable(where), mapping="spark")
    text = str(info.value)
    assert text.startswith("PE ") and "Locked1" in text, text
    assert (": one of them wrote data that cannot be sent to another Spark task (TypeError: "
            "cannot pickle '_thread.lock' object); write data that pickle can copy") in text


def test_data_that_cannot_be_pickled_in_a_job_of_one_pe_names_it_alone():
    import threading

    @d4p.producer
    def locks():
        yield threading.Lock()

    graph = d4p.WorkflowGraph()
    graph.add(pe := locks())
    with pytest.raises(d4p.PEUsageError) as info:
        d4p.run(graph, mapping="spark")
    assert str(info.value).startswith(  # was "PE locks0: one of them wrote ..."
        f"PE {pe.id!r} wrote data that cannot be sent to another Spark task (TypeError: cannot "
        "pickle '_thread.lock' object); write data that pickle can copy"), str(info.value)


@pytest.mark.parametrize(("where", "into"), [("between", "another process"),
                                             ("result", "the process that started the run")])
def test_data_that_pickles_but_does_not_load_is_a_usage_error_naming_the_pe(where, into):
    from d4p.testing.workflows import unloadable

    with pytest.raises(d4p.PEUsageError) as info:  # was a WorkflowFailed with a traceback
        d4p.run(unloadable(where), mapping="spark")
    assert str(info.value).startswith(
        f"PE 'Gaps1' wrote data on output 'output' that cannot be loaded in {into} (TypeError: "
        "Gap.__init__() missing 1 required positional argument: 'reason'); give a class whose "
        "__init__ takes required arguments"), str(info.value)
    assert (info.value.pe, info.value.port) == ("Gaps1", "output")


class Unloadable(d4p.IterativePE):
    """Pickles in the driver, but cannot be unpickled on a worker."""

    def __setstate__(self, state):
        raise ImportError("the workers lack the 'seisdata' package")

    def _process(self, x):
        return x


def test_a_task_that_fails_outside_the_pes_shows_the_python_cause():
    graph = d4p.WorkflowGraph()
    source, bad = _numbers(3), Unloadable()
    graph.connect(source, "output", bad, "input")
    with pytest.raises(d4p.WorkflowFailed, match=f"a Spark task failed running PE {source.id}, "
                       f"{bad.id}: ImportError: the workers lack the 'seisdata' package") as info:
        d4p.run(graph, {source: 1}, mapping="spark")
    assert "Traceback (most recent call last)" in info.value.traceback
    assert "in __setstate__" in info.value.traceback
    assert "\tat org.apache" not in str(info.value)


class Both(d4p.GenericPE):
    """Counts and sums what reaches its 'all' input and its shuffled input;
    writes (instance, all count, all sum, shuffled count, shuffled sum) at the end."""

    def __init__(self):
        super().__init__(numprocesses=3)
        self._add_input("every", grouping="all")
        self._add_input("some")
        self._add_output("output")
        self.seen = {"every": [0, 0], "some": [0, 0]}

    def process(self, inputs):
        for port, x in inputs.items():
            self.seen[port][0] += 1
            self.seen[port][1] += x

    def postprocess(self):
        self.write("output", (self.instance, *self.seen["every"], *self.seen["some"]))


@pytest.mark.parametrize("all_grouping", ["broadcast", "shuffle"])
def test_all_inputs_get_every_unit_whether_broadcast_or_shuffled(all_grouping):
    from d4p.testing.workflows import Double, Total

    def run(**options):
        graph = d4p.WorkflowGraph()
        source, double, both, total = _numbers(100), Double(), Both(), Total("all", 2)
        double.numprocesses = 2
        graph.connect(source, "output", double, "input")
        graph.connect(double, "output", both, "every")  # the same stage feeds both inputs
        graph.connect(double, "output", both, "some")
        graph.connect(source, "output", total, "input")  # a second 'all' input elsewhere
        out = d4p.run(graph, {source: 1}, **options)
        return sorted(out[both.id]["output"]), sorted(out[total.id]["output"])

    both_out, total_out = run(mapping="spark", all_grouping=all_grouping)
    assert (both_out, total_out) == run()
    doubled = 2 * sum(range(100))
    assert [row[1:3] for row in both_out] == [(100, doubled)] * 3
    assert sum(row[3] for row in both_out) == 100 and sum(row[4] for row in both_out) == doubled
    assert total_out == [(100, sum(range(100)))] * 2


class Pick(d4p.GenericPE):
    """'global': keeps the largest unit; raises on ``bad``."""

    def __init__(self, bad=None):
        super().__init__()
        self._add_input("input", grouping="global")
        self._add_output("output")
        self.bad = bad
        self.best = None

    def process(self, inputs):
        x = inputs["input"]
        if x == self.bad:
            raise ValueError(f"{x} is bad")
        self.best = x if self.best is None else max(self.best, x)

    def postprocess(self):
        self.write("output", self.best)


def _parallel_then_global(pick):
    from d4p.testing.workflows import Double

    graph = d4p.WorkflowGraph()
    source, double = _numbers(50), Double()
    double.numprocesses = 2
    graph.connect(source, "output", double, "input")
    graph.connect(double, "output", pick, "input")
    return graph, {source: 1}


def test_a_source_stops_after_max_units_and_when_the_run_is_stopped():
    import itertools
    import threading

    @d4p.producer
    def endless():
        yield from itertools.count()

    pick = Pick()
    graph = d4p.WorkflowGraph()
    graph.connect(endless(), "output", pick, "input")
    result = d4p.run(graph, mapping="spark", max_units=500)
    assert result[pick.id] == {"output": [499]}
    assert result.summary.stopped == "max_units=500"  # before: None
    stop = threading.Event()
    threading.Timer(3, stop.set).start()  # the tasks see the driver's stop file
    result = d4p.run(graph, mapping="spark", stop=stop)
    assert result[pick.id]["output"][0] > 0
    assert result.summary.stopped == "the stop event was set"


def test_a_source_stopped_at_max_units_writes_in_its_postprocess():
    """Before, its postprocess's write raised the stop's own signal: the run
    failed with _SourceStopped (core's test_a_stopped_source_writes_in_its_postprocess)."""
    from d4p.testing.workflows import tallied

    graph, source, count = tallied()
    result = d4p.run(graph, mapping="spark", max_units=500)
    assert result[count.id] == {"output": [500]} and result[source.id] == {"tally": [500]}


def test_an_aborted_run_leaves_no_spark_job_running():
    """A second Ctrl-C aborts the run: before, its Spark job ran on in the
    JVM (here a postprocess sleeping 30 s; in a notebook, whose Spark
    context serves later runs, for as long as its tasks took), holding
    the cores that the next run waits for."""
    import signal
    import time

    from d4p.testing.workflows import endless
    from pyspark import SparkContext

    def twice():
        deadline = time.monotonic() + 60
        while not (SparkContext._active_spark_context and list(
                SparkContext._active_spark_context.statusTracker().getActiveJobsIds())):
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        time.sleep(1)
        os.kill(os.getpid(), signal.SIGINT)  # the source stops; Count's postprocess sleeps
        time.sleep(2)
        os.kill(os.getpid(), signal.SIGINT)  # the abort

    threading.Thread(target=twice, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        d4p.run(endless(pause_at_end=30), mapping="spark")
    tracker = SparkContext._active_spark_context.statusTracker()
    deadline = time.monotonic() + 10  # a job is cancelled in a moment, not at once
    while list(tracker.getActiveJobsIds()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tracker.getActiveJobsIds()) == []


def test_a_final_global_pe_after_parallel_pes_gives_its_outputs_and_errors():
    pick = Pick()
    result = d4p.run(*_parallel_then_global(pick), mapping="spark")
    assert result[pick.id] == {"output": [98]}
    assert result.summary.units[pick.id] == 50
    pick = Pick(bad=42)
    with pytest.raises(d4p.WorkflowFailed) as info:
        d4p.run(*_parallel_then_global(pick), mapping="spark")
    err = info.value
    assert (err.pe, err.instance, err.port, err.data) == (pick.id, 0, "input", "42")
    assert "ValueError: 42 is bad" in str(err) and 'raise ValueError(f"{x} is bad")' \
        in err.traceback


@pytest.mark.parametrize(("build", "stages"), [(wordcount, 2), (wordcount_plain, 3)])
def test_a_global_aggregate_reduces_in_the_driver_and_other_final_pes_run_in_spark(
        spark, build, stages):
    """A global aggregate fed partial states (a few per partition) reduces them
    in the driver, as Spark's own actions do: one Spark stage less. A plain
    final PE, whose input may be the whole stream, gets a Spark stage."""
    graph, inputs = build(words=1_000, counters=2)
    want = d4p.run(graph, inputs)
    group = f"d4p-final-{build.__name__}"
    spark.setJobGroup(group, group)
    try:
        graph, inputs = build(words=1_000, counters=2)
        got = d4p.run(graph, inputs, mapping="spark")
    finally:
        spark.setJobGroup(None, None)
    assert list(got.values()) == list(want.values())
    tracker = spark.statusTracker()
    (job,) = tracker.getJobIdsForGroup(group)
    assert len(tracker.getJobInfo(job).stageIds) == stages


def test_a_final_global_pe_after_one_partition_stays_in_its_spark_task(spark):
    graph = d4p.WorkflowGraph()
    source, pick = _numbers(20), Pick()
    graph.connect(source, "output", pick, "input")
    spark.setJobGroup("d4p-final-after-one", "d4p-final-after-one")
    try:
        result = d4p.run(graph, {source: 1}, mapping="spark")
    finally:
        spark.setJobGroup(None, None)
    assert result[pick.id] == {"output": [19]}
    tracker = spark.statusTracker()
    (job,) = tracker.getJobIdsForGroup("d4p-final-after-one")
    assert len(tracker.getJobInfo(job).stageIds) == 1  # streamed within one task
