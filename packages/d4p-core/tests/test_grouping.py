"""Groupings and the stable hash that routes group-by keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import d4p
import numpy as np
import pytest
from d4p.examples import NumberProducer
from d4p.grouping import ALL, GLOBAL, SHUFFLE, GroupBy, describe, normalise, stable_hash


@pytest.mark.parametrize(("spec", "want"), [
    (None, SHUFFLE), ("shuffle", SHUFFLE), ("all", ALL), ("one_to_all", ALL),
    ("onetoall", ALL), ("global", GLOBAL), ("all_to_one", GLOBAL), ("alltoone", GLOBAL),
    ([0], GroupBy((0,))), ((1, 2), GroupBy((1, 2))),
])
def test_every_spelling_normalises(spec, want):
    assert normalise(spec) == want


def test_key_function_and_group_by_object():
    assert normalise(len) == GroupBy(key=len)
    g = d4p.group_by(key=len)
    assert normalise(g) is g
    assert describe(g) == "group_by(key=len)"
    assert describe(d4p.group_by(0, 2)) == "group_by(0, 2)"
    assert describe(ALL) == "all"


@pytest.mark.parametrize("spec", ["everyone", [], [1.5], [None], 3.5])
def test_unknown_grouping_lists_the_accepted_forms(spec):
    with pytest.raises(ValueError) as info:
        normalise(spec)
    assert str(info.value) == (f"unknown grouping {spec!r}: use 'shuffle', 'all', 'global', a "
                               "list of tuple indices or dict keys such as [0] or ['station'], "
                               "d4p.group_by(key=function) or a d4p.Grouping")


@pytest.mark.parametrize(("indices", "key", "said"), [
    ((), None, "group_by takes either tuple indices or key=, not both or neither"),
    ((0,), len, "group_by takes either tuple indices or key=, not both or neither"),
    ((), 3, "group_by(key=...) takes a function of the unit, not 3"),
    ((1.5,), None, "group_by takes tuple indices (int) or dict keys (str), not 1.5"),
])
def test_group_by_takes_indices_or_key(indices, key, said):
    """Before: ValueError for neither or both; a key or an index of the wrong
    kind was taken and failed in the run."""
    with pytest.raises(d4p.UsageError) as info:
        d4p.group_by(*indices, key=key)
    assert str(info.value) == said


def test_dict_keys_group_like_indices():
    """dispel4py routes ``grouping=['station']`` by ``unit['station']`` of dict units."""
    assert normalise(["station"]) == GroupBy(("station",))
    assert normalise(["net", 0]).key_of({"net": "GE", 0: "x"}) == ("GE", "x")
    assert d4p.group_by("station").key_of({"station": "AAA", "lat": 1}) == "AAA"


def test_key_of():
    assert d4p.group_by(1).key_of(("a", "b", "c")) == "b"
    assert d4p.group_by(0, 2).key_of(("a", "b", "c")) == ("a", "c")
    assert d4p.group_by(key=str.upper).key_of("x") == "X"


def test_bad_grouping_on_a_port_fails_at_plan_naming_pe_and_port():
    class Odd(d4p.IterativePE):
        def __init__(self):
            super().__init__()
            self._add_input("input", grouping="sometimes")

    graph = d4p.WorkflowGraph()
    odd = Odd()
    graph.connect(NumberProducer(3), "output", odd, "input")
    with pytest.raises(d4p.GraphError, match=rf"PE '{odd.id}' input 'input': unknown grouping "
                                             r"'sometimes'"):
        d4p.run(graph)


# -- stable_hash ----------------------------------------------------------------------

KEYS = ["station-ABC", "", "ü-ñ", 0, 1, -7, 2**70, 1.5, -0.25, None, True, b"raw",
        ("net", "sta", 3), ["a", 1]]


def test_stable_hash_is_pinned_to_crc32():
    """Routing must agree between processes, machines and d4p versions in one
    cluster: these values may never change."""
    assert stable_hash("abc") == zlib.crc32(b"abc") == 891568578
    assert stable_hash(1) == zlib.crc32(b"\x00i1")
    assert stable_hash(None) == zlib.crc32(b"\x00N")


def test_stable_hash_is_the_same_in_a_subprocess_with_another_hash_seed():
    here = [stable_hash(k) for k in KEYS]
    code = ("import json, sys; from d4p.grouping import stable_hash\n"
            f"keys = {KEYS!r}\n"
            "print(json.dumps([stable_hash(k) for k in keys]))")
    for seed in ("1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, timeout=60)
        assert json.loads(out.stdout) == here
    # and Python's own hash() of a string does differ between those seeds
    salted = [subprocess.run([sys.executable, "-c", "print(hash('station-ABC'))"],
                             env=dict(os.environ, PYTHONHASHSEED=s), capture_output=True,
                             text=True, check=True).stdout for s in ("1", "4242")]
    assert salted[0] != salted[1]


@pytest.mark.parametrize("same", [
    (1, 1.0, True, np.int64(1), np.int8(1), np.float32(1.0), np.float64(1.0), np.bool_(True)),
    (0, 0.0, -0.0, False, np.uint16(0)),
    (2.5, np.float64(2.5), np.float32(2.5)),
    ("abc", np.str_("abc")),
    ((1, "a"), (1.0, "a"), [1, "a"]),
])
def test_equal_keys_hash_equally_across_types(same):
    assert len({stable_hash(k) for k in same}) == 1


def test_different_keys_hash_differently():
    keys = [f"k{i}" for i in range(1000)] + list(range(1000)) + [i + 0.5 for i in range(1000)]
    assert len({stable_hash(k) for k in keys}) == len(keys)


def test_stable_hash_spreads_keys_over_instances():
    buckets = [0, 0, 0]
    for i in range(3000):
        buckets[stable_hash(f"station-{i}") % 3] += 1
    assert min(buckets) > 800


def test_other_objects_hash_by_pickle():
    assert stable_hash(frozenset({1})) == stable_hash(frozenset({1}))
    assert stable_hash(frozenset({1})) != stable_hash(frozenset({2}))
