"""The example workflows shipped with the core give the right numbers."""

from __future__ import annotations

import random
from collections import Counter

import d4p
import pytest
from d4p.examples import pipeline, wordcount, wordcount_plain


@pytest.mark.parametrize("n", [0, 1, 2, 10, 12_345])
def test_pipeline_sums_twice_the_integers(n):
    graph, inputs = pipeline(n)
    (ports,) = d4p.run(graph, inputs).values()
    assert ports == {"output": [n * (n - 1)]}


def _drawn(words: int, vocabulary: int, seed: int) -> Counter:
    rng = random.Random(seed)
    vocab = [f"w{i:04d}" for i in range(vocabulary)]
    return Counter(rng.choice(vocab) for _ in range(words))


def test_wordcount_counts_every_word_once_with_aggregates():
    graph, inputs = wordcount(words=20_000, vocabulary=30, counters=3, top=30, seed=5)
    result = d4p.run(graph, inputs)
    assert list(result) == ["top2"]
    (ranked,) = result["top2"]["output"]  # d4p.aggregate.top writes one list
    assert dict(ranked) == dict(_drawn(20_000, 30, 5))
    assert ranked == sorted(ranked, key=lambda wc: (-wc[1], wc[0]))
    assert result.summary.units == {"WordProducer0": 1, "count1.partial": 20_000, "count1": 30,
                                    "top2.partial": 30, "top2": 3}
    assert result.summary.instances["count1"] == 3


def test_wordcount_plain_counts_every_word_once():
    graph, inputs = wordcount_plain(words=20_000, vocabulary=30, counters=3, top=30, seed=5)
    result = d4p.run(graph, inputs)
    (ports,) = result.values()
    counts = dict(ports["output"])
    assert counts == dict(_drawn(20_000, 30, 5))
    ranked = ports["output"]
    assert ranked == sorted(ranked, key=lambda wc: (-wc[1], wc[0]))
    units = {pe.rstrip("0123456789"): n for pe, n in result.summary.units.items()}
    assert units == {"WordProducer": 1, "WordCounter": 20_000, "CountCollector": 30}
    counter = next(pe for pe in result.summary.instances if pe.startswith("WordCounter"))
    assert result.summary.instances[counter] == 3


@pytest.mark.parametrize("build", [wordcount, wordcount_plain])
def test_wordcount_top_words_do_not_depend_on_counters(build):
    tops = []
    for counters in (1, 2, 5):
        graph, inputs = build(words=5_000, vocabulary=100, counters=counters, top=10)
        (ports,) = d4p.run(graph, inputs).values()
        tops.append(ports["output"] if build is wordcount_plain else ports["output"][0])
    assert tops[0] == tops[1] == tops[2]
    assert len(tops[0]) == 10
    assert tops[0] == sorted(_drawn(5_000, 100, 1).items(), key=lambda wc: (-wc[1], wc[0]))[:10]


def test_examples_are_registered_as_named_workflows():
    found = d4p.workflows()
    assert found["pipeline"].params == {"n": 200_000}
    assert found["wordcount"].params == {"words": 200_000, "vocabulary": 1000, "counters": 2,
                                         "top": 10, "seed": 1}
    graph, inputs = found["pipeline"].build(n=100)
    assert list(d4p.run(graph, inputs).values()) == [{"output": [9900]}]
    assert found["wordcount"].description
    assert found["wordcount_plain"].params == found["wordcount"].params
    plain, aggregated = (d4p.run(*found[name].build(words=2_000)).values()
                         for name in ("wordcount_plain", "wordcount"))
    (plain,), (aggregated,) = plain, aggregated
    assert aggregated["output"] == [plain["output"]]
