"""``eq_``, ``ok_`` and ``raises`` as nose defined them."""

import functools


def eq_(a, b, msg=None):
    if not a == b:
        raise AssertionError(msg or f"{a!r} != {b!r}")


def ok_(expr, msg=None):
    if not expr:
        raise AssertionError(msg)


def raises(*exceptions):
    def decorate(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            try:
                func(*args, **kwargs)
            except exceptions:
                return
            names = " or ".join(e.__name__ for e in exceptions)
            raise AssertionError(f"{func.__name__}() did not raise {names}")
        return run
    return decorate
