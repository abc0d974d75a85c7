"""Example workflows shipped with the core and registered by name:
``d4p run pipeline`` and ``d4p run wordcount``. They are also the workflows of
the benchmarks in ``bench/``.

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
        wordcount_aggregate,
    )

__all__ = ["CountCollector", "Doubler", "NumberProducer", "Summer", "WordCounter",
           "WordProducer", "by_count", "pipeline", "wordcount", "wordcount_aggregate"]

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "workflows"))


@hookimpl
def d4p_register_workflows():
    return [
        NamedWorkflow("pipeline", "d4p.examples.workflows:pipeline", {"n": 200_000},
                      "producer → doubler → summer over n integers",
                      {"n": "how many integers the producer writes"}),
        NamedWorkflow("wordcount", "d4p.examples.workflows:wordcount",
                      {"words": 200_000, "vocabulary": 1000, "counters": 2, "top": 10, "seed": 1},
                      "count words: group-by counters, a global collector, the top words",
                      {"words": "how many words the producer draws",
                       "vocabulary": "how many different words it draws them from",
                       "counters": "instances of the word counter (group-by word)",
                       "top": "how many of the most frequent words the collector writes",
                       "seed": "seed of the random draw"}),
    ]
