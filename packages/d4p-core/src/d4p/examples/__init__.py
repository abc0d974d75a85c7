"""Example workflows shipped with the core and registered by name:
``d4p run pipeline``, ``d4p run wordcount`` (with :mod:`d4p.aggregate`) and
``d4p run wordcount_plain`` (the same count with plain PEs, which the
benchmarks compare it with). They are also the workflows of the benchmarks
in ``bench/``.

They live in :mod:`d4p.examples.workflows`, imported when one of them is
built or named here (``from d4p.examples import pipeline``), so that
registering them costs nothing when d4p lists its plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ..plugins import NamedWorkflow, hookimpl

if TYPE_CHECKING:
    from .workflows import (
        CountCollector,
        Doubler,
        NumberProducer,
        Summer,
        WordCounter,
        WordProducer,
        by_count,
        pipeline,
        wordcount,
        wordcount_plain,
    )

__all__ = ["CountCollector", "Doubler", "NumberProducer", "Summer", "WordCounter",
           "WordProducer", "by_count", "pipeline", "wordcount", "wordcount_plain"]

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "workflows"))


_WORDCOUNT = {"words": 200_000, "vocabulary": 1000, "counters": 2, "top": 10, "seed": 1}
_WORDCOUNT_HELP = {"words": "how many words the producer draws",
                   "vocabulary": "how many different words it draws them from",
                   "seed": "seed of the random draw"}


@hookimpl
def d4p_register_workflows():
    return [
        NamedWorkflow("pipeline", "d4p.examples.workflows:pipeline", {"n": 200_000},
                      "producer → doubler → summer over n integers",
                      {"n": "how many integers the producer writes"}),
        NamedWorkflow("wordcount", "d4p.examples.workflows:wordcount", _WORDCOUNT,
                      "count words with d4p.aggregate: count by word, then the top words",
                      {**_WORDCOUNT_HELP,
                       "counters": "instances of the count by word (d4p.aggregate.count)",
                       "top": "how many of the most frequent words d4p.aggregate.top keeps"}),
        NamedWorkflow("wordcount_plain", "d4p.examples.workflows:wordcount_plain", _WORDCOUNT,
                      "count words with plain PEs: group-by counters, a global collector "
                      "(the benchmarks' comparison for wordcount)",
                      {**_WORDCOUNT_HELP,
                       "counters": "instances of the word counter (group-by word)",
                       "top": "how many of the most frequent words the collector writes"}),
    ]
