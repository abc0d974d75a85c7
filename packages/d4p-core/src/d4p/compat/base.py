"""``dispel4py.base``: PE base classes, composite PEs and function chains."""

from __future__ import annotations

from collections.abc import Iterable

import d4p
from d4p import BasePE, ConsumerPE, IterativePE, ProducerPE, SimpleFunctionPE

from .core import NAME, GenericPE
from .workflow_graph import WorkflowGraph, number_pe


class CompositePE(d4p.CompositePE, WorkflowGraph):
    """A sub-workflow used as one PE (dispel4py's ``CompositePE``):
    ``CompositePE(create_graph, params)`` calls ``create_graph(self, **params)``."""


def create_iterative_chain(functions: Iterable, FunctionPE_class=SimpleFunctionPE,  # noqa: N803
                           name_prefix: str = "PE_", name_suffix: str = "") -> d4p.CompositePE:
    """A composite PE chaining ``functions`` (each ``fn`` or ``(fn, kwargs)``);
    its PEs are numbered as dispel4py numbers them."""
    chain = d4p.create_iterative_chain(functions, FunctionPE_class, name_prefix, name_suffix)
    for pe in chain.get_contained_objects():
        number_pe(pe)
    return chain


__all__ = ["NAME", "BasePE", "CompositePE", "ConsumerPE", "GenericPE", "IterativePE",
           "ProducerPE", "SimpleFunctionPE", "create_iterative_chain"]
