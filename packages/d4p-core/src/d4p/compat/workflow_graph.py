"""``dispel4py.workflow_graph``: the graph, its nodes, ``draw`` in dot."""

from __future__ import annotations

from typing import Any

import d4p
from d4p.pe import GenericPE


class WorkflowNode(d4p.WorkflowNode):
    """A node of the graph. ``WorkflowNode.node_counter`` numbers the PEs
    added to graphs (``TestProducer0``, ``TestOneInOneOut1``, ...), as in
    dispel4py; setting it to 0 restarts the numbering."""

    __slots__ = ()
    WORKFLOW_NODE_PE = 0
    WORKFLOW_NODE_FN = 1
    WORKFLOW_NODE_CP = 2
    node_counter = 0


def number_pe(pe: GenericPE) -> None:
    """Give ``pe`` the next dispel4py id: its name and the node counter."""
    pe.id = f"{pe.name}{WorkflowNode.node_counter}"
    WorkflowNode.node_counter += 1


class WorkflowGraph(d4p.WorkflowGraph):
    """d4p's :class:`~d4p.WorkflowGraph` with dispel4py's PE numbering and
    :meth:`propagate_types`. A dispel4py-style composite is a graph given
    ``inputmappings`` / ``outputmappings`` (``{name: (pe, port)}``). A unit
    written to several destinations reaches each as its own copy
    (``copy_fanout``), as dispel4py's PEs expect: they may change their
    input in place. On several processes the PEs with inputs share the
    processes the sources leave (:meth:`numprocesses_on`), as in dispel4py."""

    copy_fanout = True

    def numprocesses_on(self, processes: int) -> dict[GenericPE, int]:
        """The instances dispel4py's multi and mpi give the PEs on ``processes``
        processes: the processes the sources leave, shared among the other PEs
        in proportion to ``numprocesses`` (rounded down), so that on 4
        processes a source and one PE run 1 and 3 instances, as dispel4py's
        tutorial shows. Only when every declared instance has a process of its
        own (dispel4py ran the graph in partitions otherwise)."""
        flat = self.flattened()
        inner = [n.obj for n in flat.graph.nodes if flat.graph.in_degree(n) > 0]
        sources = flat.graph.number_of_nodes() - len(inner)
        declared = [pe.numprocesses for pe in inner]
        if not all(type(n) is int and n > 0 for n in declared) \
                or sources + sum(declared) > processes:
            return {}  # planning names a bad numprocesses
        share = processes - sources
        return {pe: max(1, n * share // sum(declared)) for pe, n in zip(inner, declared, strict=True)}

    def add(self, pe):
        new = pe not in self.objToNode
        node = super().add(pe)
        if new and isinstance(pe, GenericPE):
            number_pe(pe)
        return node

    def getContainedObjects(self) -> list:  # noqa: N802 (dispel4py API)
        """The PEs and composites of this graph, sorted by id as in dispel4py."""
        return sorted(self.get_contained_objects(), key=lambda obj: str(getattr(obj, "id", "")))

    def propagate_types(self) -> None:
        """Give every PE the types of the outputs that feed it:
        ``pe.setInputTypes({input: type})`` with ``source.getOutputTypes()``,
        sources first."""
        import networkx as nx

        for node in nx.topological_sort(self.graph):
            pe = node.obj
            if not isinstance(pe, GenericPE):
                continue
            types = {}
            for src, _, data in self.graph.in_edges(node, data=True):
                if isinstance(src.obj, GenericPE):
                    types[data["to_port"]] = src.obj.getOutputTypes().get(data["from_port"])
            pe.setInputTypes(types)


def draw(graph: d4p.WorkflowGraph) -> str:
    """The graph in Graphviz dot, as dispel4py draws it: one record per PE,
    one ``subgraph cluster_<name>`` per composite (not flattened), one arrow
    per connection. Nothing is validated, so unrunnable graphs draw too."""
    lines = ["digraph request", "{",
             "node [shape=Mrecord, style=filled, fillcolor=white];"]
    clusters = iter(range(1 << 30))
    _draw_nodes(graph, lines, clusters)
    _draw_edges(graph, lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def drawDot(graph: d4p.WorkflowGraph) -> bytes:  # noqa: N802 (dispel4py API)
    """The graph as a PNG image made by Graphviz's ``dot`` (must be installed)."""
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        raise d4p.GraphError("drawDot needs Graphviz: install it (apt-get install graphviz) "
                             "or use draw(graph) for the dot text")
    return subprocess.run([dot, "-Tpng"], input=draw(graph).encode(), capture_output=True,
                          check=True).stdout


def _draw_nodes(graph, lines: list[str], clusters) -> None:
    for obj in graph.get_contained_objects():
        if isinstance(obj, d4p.WorkflowGraph):
            name = getattr(obj, "name", None) or type(obj).__name__
            lines.append(f"subgraph cluster_{_plain(name)}{next(clusters)} {{")
            lines.append(f'label = "{_escape(name)}";')
            lines.append("style=filled;")
            lines.append("color=lightgrey;")
            _draw_nodes(obj, lines, clusters)
            _draw_edges(obj, lines)
            lines.append("}")
            continue
        ins = " | ".join(f"<in_{_plain(p)}> {_escape(p)}" for p in obj.inputconnections)
        outs = " | ".join(f"<out_{_plain(p)}> {_escape(p)}" for p in obj.outputconnections)
        label = " | ".join(x for x in (ins and f"{{{ins}}}", _escape(obj.id),
                                       outs and f"{{{outs}}}") if x)
        lines.append(f'"{_escape(obj.id)}" [label="{{ {label} }}"];')


def _draw_edges(graph, lines: list[str]) -> None:
    for a, pa, b, pb in graph.edges():
        a, pa = _inner(a, pa, "outputmappings")
        b, pb = _inner(b, pb, "inputmappings")
        lines.append(f'"{_escape(_node_id(a))}":out_{_plain(pa)} -> '
                     f'"{_escape(_node_id(b))}":in_{_plain(pb)};')


def _inner(obj: Any, port: Any, mappings: str) -> tuple[Any, Any]:
    """Follow composite port mappings as far as they go (no validation)."""
    seen = 0
    while isinstance(obj, d4p.WorkflowGraph) and seen < 100:
        target = (getattr(obj, mappings, None) or {}).get(port)
        if not isinstance(target, tuple | list) or len(target) != 2:
            break
        obj, port = target
        seen += 1
    return obj, port


def _node_id(obj: Any) -> str:
    return str(getattr(obj, "id", None) or getattr(obj, "name", None) or type(obj).__name__)


def _escape(text: Any) -> str:
    return "".join("\\" + c if c in '{}|<>"\\' else c for c in str(text))


def _plain(text: Any) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in str(text))


__all__ = ["WorkflowGraph", "WorkflowNode", "draw", "drawDot"]
