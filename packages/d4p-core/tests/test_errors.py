import pickle

from d4p import D4PError, UsageError, WorkflowFailed
from d4p.errors import PEUsageError, as_failure


def test_a_d4p_error_that_pickles_travels_as_it_is():
    error = UsageError("option 'x' must be a number")
    assert as_failure(error, "worker process 1") is error


def test_any_other_exception_becomes_a_failure_naming_where_with_its_traceback():
    try:
        raise KeyError("station")
    except KeyError as exc:
        failure = as_failure(exc, "MPI rank 3")
    assert isinstance(failure, WorkflowFailed)
    assert failure.args[0] == "MPI rank 3 failed: KeyError: 'station'"
    assert "raise KeyError" in failure.traceback
    assert pickle.loads(pickle.dumps(failure)).args == failure.args


class _Unpicklable(D4PError):
    def __reduce__(self):
        raise TypeError("no")


def test_a_d4p_error_that_cannot_pickle_becomes_a_failure():
    failure = as_failure(_Unpicklable("odd"), "worker process 0")
    assert type(failure) is WorkflowFailed
    assert failure.args[0] == "worker process 0 failed: _Unpicklable: odd"


def test_a_pes_usage_error_travels_with_its_type_and_fields():
    error = PEUsageError("PE 'Read0': station file 'x.xml' not found", pe="Read0", instance=1,
                         port="input", data="'x.xml'", traceback="Traceback ...\nNoStation: x")
    assert as_failure(error, "worker process 1") is error
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is PEUsageError and isinstance(copy, UsageError)
    assert (copy.pe, copy.instance, copy.port, copy.data, copy.traceback) == (
        "Read0", 1, "input", "'x.xml'", "Traceback ...\nNoStation: x")
    assert str(copy) == "PE 'Read0': station file 'x.xml' not found"  # no traceback: a mistake
    assert copy.exit_code == UsageError.exit_code == 2
