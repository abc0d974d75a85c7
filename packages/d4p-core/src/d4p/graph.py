"""The workflow graph: PEs connected from output ports to input ports.

``WorkflowGraph`` is a directed multigraph whose nodes wrap PEs or
composite PEs and whose edges carry ``(output port, input port)``. Ports are
checked at :meth:`WorkflowGraph.connect`, so a typo fails where it is made.
The few graph operations d4p needs are plain Python here (networkx costs
~60 ms to import, a third of a short run); ``graph.graph`` gives the
networkx view that dispel4py code may read.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from .errors import GraphError
from .pe import GROUPING, TYPE, GenericPE, IterativePE, SimpleFunctionPE, function_name


class WorkflowNode:
    """A node of the graph: wraps one PE or one composite PE (dispel4py name)."""

    __slots__ = ("obj",)

    def __init__(self, obj: GenericPE | WorkflowGraph) -> None:
        self.obj = obj

    def getContainedObject(self):  # noqa: N802 (dispel4py API)
        return self.obj

    def __repr__(self) -> str:
        return f"WorkflowNode({self.obj!r})"


class WorkflowGraph:
    """A workflow: add PEs with :meth:`connect` (or :meth:`add`), then run it
    with :func:`d4p.run`.

    ``partitions`` (optional) is a list of lists of PEs that must run together
    in one process.
    """

    copy_fanout: bool = False
    """When true, a data unit that one write hands to several destinations
    (edges from the port, or the instances of an ``'all'`` input) reaches all
    but the last as a copy (``copy.deepcopy``), so that a PE that changes its
    input in place (as ObsPy's filters do) cannot change what another PE
    receives, as in dispel4py. d4p's own rule is to treat data units as
    immutable, which costs no copy; the dispel4py compatibility layer's graphs
    set this."""

    def numprocesses_on(self, processes: int) -> dict[GenericPE, int]:
        """The instances that PEs ask for when the graph is planned on
        ``processes`` processes, where that differs from their
        ``numprocesses``: none here. The dispel4py compatibility layer's graph
        gives the PEs with inputs the processes the sources leave, in
        proportion to ``numprocesses``, as dispel4py's multi and mpi did."""
        return {}

    def __init__(self) -> None:
        self._succ: dict[WorkflowNode, list[tuple[WorkflowNode, dict]]] = {}
        self.objToNode: dict[Any, WorkflowNode] = {}
        self.partitions: list[list[GenericPE]] | None = None

    @property
    def graph(self):
        """The graph as a networkx ``MultiDiGraph``, made when asked, for
        reading (dispel4py programs read ``workflow.graph``). It is frozen:
        change the workflow with :meth:`connect` and :meth:`disconnect`."""
        import networkx as nx

        view = nx.MultiDiGraph()
        view.add_nodes_from(self._succ)
        for src, outs in self._succ.items():
            for dst, data in outs:
                view.add_edge(src, dst, **data)
        return nx.freeze(view)

    # -- building ---------------------------------------------------------------
    def add(self, pe: GenericPE | WorkflowGraph) -> WorkflowNode:
        """Add a PE (or composite) and return its node; adding twice is a no-op."""
        node = self.objToNode.get(pe)
        if node is not None:
            return node
        if isinstance(pe, GenericPE):
            _check_initialised(pe)
            pe.id = f"{pe.name}{len(self._succ)}"  # numbered in this graph: stable on re-runs
        elif not isinstance(pe, WorkflowGraph):
            raise _not_a_pe(pe, "add", "to a workflow")
        node = WorkflowNode(pe)
        self.objToNode[pe] = node
        self._succ[node] = []
        return node

    def connect(self, from_pe, from_port: str, to_pe, to_port: str) -> None:
        """Connect output ``from_port`` of ``from_pe`` to input ``to_port`` of
        ``to_pe``, adding either PE to the graph if needed.

        Connecting the same two ports again adds another edge: each data unit
        is then delivered once per edge (as in dispel4py)."""
        _check_port(from_pe, from_port, "output")
        _check_port(to_pe, to_port, "input")
        if from_pe is to_pe:
            raise GraphError(f"cannot connect {_label(from_pe)} to itself: cycles are not supported")
        _check_types(from_pe, from_port, to_pe, to_port)
        src, dst = self.add(from_pe), self.add(to_pe)
        if self._reaches(dst, src):
            raise GraphError(
                f"connecting {_label(from_pe)}.{from_port} -> {_label(to_pe)}.{to_port} "
                "would close a cycle; d4p workflows must be acyclic"
            )
        self._succ[src].append((dst, {"from_port": from_port, "to_port": to_port, "to_node": dst}))

    def disconnect(self, from_pe, from_port: str, to_pe, to_port: str) -> int:
        """Remove every connection of output ``from_port`` of ``from_pe`` to
        input ``to_port`` of ``to_pe``; returns how many there were."""
        src, dst = self.objToNode.get(from_pe), self.objToNode.get(to_pe)
        if src is None or dst is None:
            return 0
        kept = [(node, data) for node, data in self._succ[src]
                if not (node is dst and data["from_port"] == from_port
                        and data["to_port"] == to_port)]
        removed = len(self._succ[src]) - len(kept)
        self._succ[src] = kept
        return removed

    def _reaches(self, start: WorkflowNode, goal: WorkflowNode) -> bool:
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            if node is goal:
                return True
            for nxt, _ in self._succ[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    # -- reading ----------------------------------------------------------------
    def get_contained_objects(self) -> list:
        return [n.obj for n in self._succ]

    getContainedObjects = get_contained_objects  # noqa: N815 (dispel4py API)

    def edges(self) -> Iterator[tuple[Any, str, Any, str]]:
        """Yield ``(from_pe, from_port, to_pe, to_port)`` for every connection."""
        for src, outs in self._succ.items():
            for dst, data in outs:
                yield src.obj, data["from_port"], dst.obj, data["to_port"]

    def pes(self) -> list[GenericPE]:
        """The PEs of the flattened graph, sources first (topological order)."""
        flat = self.flattened()
        return topological_order(flat.get_contained_objects(),
                                 ((a, b) for a, _, b, _ in flat.edges()), key=_pe_key)

    def cycle(self) -> list[GenericPE] | None:
        """The PEs of a cycle in the flattened graph (first repeated last), or ``None``."""
        flat = self.flattened()
        return find_cycle(flat.get_contained_objects(), ((a, b) for a, _, b, _ in flat.edges()))

    # -- composites -------------------------------------------------------------
    def flattened(self) -> WorkflowGraph:
        """A new graph where every composite PE is replaced by its contents."""
        flat = WorkflowGraph()
        flat.partitions = self.partitions
        flat.copy_fanout = self.copy_fanout
        ends: dict[int, tuple[dict, dict]] = {}
        for node in self._succ:
            obj = node.obj
            if isinstance(obj, WorkflowGraph):
                inner = obj.flattened()
                for pe in inner.get_contained_objects():
                    flat._adopt(pe)
                for a, pa, b, pb in inner.edges():
                    flat._link(a, pa, b, pb)
                ends[id(obj)] = (
                    {k: _resolve(obj, k, "input") for k in _mappings(obj, "input")},
                    {k: _resolve(obj, k, "output") for k in _mappings(obj, "output")},
                )
                for pe, _ in (*ends[id(obj)][0].values(), *ends[id(obj)][1].values()):
                    if pe not in flat.objToNode:  # mapped, though connected to nothing inside
                        flat._adopt(pe)
            else:
                flat._adopt(obj)
        for a, pa, b, pb in self.edges():
            if isinstance(a, WorkflowGraph):
                a, pa = ends[id(a)][1][pa]
            if isinstance(b, WorkflowGraph):
                b, pb = ends[id(b)][0][pb]
            flat._link(a, pa, b, pb)
        _unique_ids(flat.get_contained_objects())
        return flat

    def flatten(self) -> None:
        """Replace composites by their contents, in place (dispel4py API)."""
        flat = self.flattened()
        self._succ, self.objToNode = flat._succ, flat.objToNode

    def _adopt(self, pe: GenericPE) -> None:
        node = WorkflowNode(pe)
        self.objToNode[pe] = node
        self._succ[node] = []

    def _link(self, a, pa, b, pb) -> None:
        dst = self.objToNode[b]
        self._succ[self.objToNode[a]].append((dst, {"from_port": pa, "to_port": pb,
                                                    "to_node": dst}))

    # -- drawing ----------------------------------------------------------------
    def to_dot(self) -> str:
        """The graph in Graphviz dot: one record per PE with its ports."""
        flat = self.flattened()
        lines = [
            "digraph workflow {",
            "  rankdir=LR;",
            '  node [shape=Mrecord, style=filled, fillcolor="#f4f6fb", fontname="Helvetica"];',
        ]
        for pe in flat.get_contained_objects():
            ins = "|".join(f"<in_{p}> {_dot_escape(p)}" for p in pe.inputconnections)
            outs = "|".join(f"<out_{p}> {_dot_escape(p)}" for p in pe.outputconnections)
            title = _dot_escape(pe.id) + (f" ×{pe.numprocesses}" if pe.numprocesses > 1 else "")
            label = "|".join(x for x in (f"{{{ins}}}" if ins else "", title,
                                         f"{{{outs}}}" if outs else "") if x)
            lines.append(f'  "{_dot_escape(pe.id)}" [label="{{{label}}}"];')
        for a, pa, b, pb in flat.edges():
            grouping = _grouping_label(b, pb)
            attr = f' [label="{_dot_escape(grouping)}"]' if grouping else ""
            lines.append(f'  "{_dot_escape(a.id)}":out_{pa} -> "{_dot_escape(b.id)}":in_{pb}{attr};')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart."""
        flat = self.flattened()
        ids = {pe: f"pe{i}" for i, pe in enumerate(flat.get_contained_objects())}
        lines = ["flowchart LR"]
        for pe, key in ids.items():
            title = pe.id + (f" ×{pe.numprocesses}" if pe.numprocesses > 1 else "")
            lines.append(f'  {key}["{_mermaid_escape(title)}"]')
        for a, pa, b, pb in flat.edges():
            label = f"{pa} → {pb}"
            grouping = _grouping_label(b, pb)
            if grouping:
                label += f" ({grouping})"
            lines.append(f'  {ids[a]} -->|"{_mermaid_escape(label)}"| {ids[b]}')
        return "\n".join(lines) + "\n"

    def to_svg(self) -> str:
        """The graph as SVG, drawn by Graphviz's ``dot`` (must be installed)."""
        return self._graphviz("svg").decode()

    def to_png(self) -> bytes:
        """The graph as PNG, drawn by Graphviz's ``dot`` (must be installed)."""
        return self._graphviz("png")

    def _graphviz(self, fmt: str) -> bytes:
        import shutil
        import subprocess

        dot = shutil.which("dot")
        if dot is None:
            raise GraphError(f"drawing .{fmt} needs Graphviz's 'dot' command: install Graphviz "
                             "(apt-get install graphviz, brew install graphviz, conda install "
                             "graphviz) or draw .dot / .mmd (Mermaid) instead")
        return subprocess.run([dot, f"-T{fmt}"], input=self.to_dot().encode(),
                              capture_output=True, check=True).stdout

    def _repr_svg_(self) -> str | None:
        import shutil

        if shutil.which("dot") is None:
            return None  # the notebook shows _repr_html_ instead
        return self.to_svg()

    def _repr_html_(self) -> str | None:
        """Without Graphviz: the PEs and connections as an HTML list (and the
        Mermaid text, which Jupyter front ends that know Mermaid draw)."""
        import html
        import shutil

        if shutil.which("dot") is not None:
            return None
        flat = self.flattened()
        rows = "".join(
            f"<li><b>{html.escape(a.id)}</b>.{html.escape(pa)} &rarr; "
            f"<b>{html.escape(b.id)}</b>.{html.escape(pb)}</li>" for a, pa, b, pb in flat.edges())
        lonely = [pe.id for pe in flat.get_contained_objects()
                  if not pe.inputconnections and not pe.outputconnections]
        rows += "".join(f"<li><b>{html.escape(pe)}</b></li>" for pe in lonely)
        return (f"<div><p>{type(self).__name__}: {len(flat._succ)} PEs</p>"
                f"<ul>{rows}</ul><pre class=\"mermaid\">{html.escape(self.to_mermaid())}</pre>"
                "</div>")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} with {len(self._succ)} nodes>"


class CompositePE(WorkflowGraph):
    """A sub-workflow used as one PE: map its inputs and outputs to ports of
    the PEs inside with :meth:`_map_input` and :meth:`_map_output`."""

    def __init__(self, create_graph=None, params: dict | None = None) -> None:
        super().__init__()
        self.inputmappings: dict[str, tuple[Any, str]] = {}
        self.outputmappings: dict[str, tuple[Any, str]] = {}
        self.name = type(self).__name__
        self.numprocesses = 1
        if create_graph is not None:
            create_graph(self, **(params or {}))

    def _map_input(self, input_name: str, internal_pe, internal_input: str) -> None:
        _check_port(internal_pe, internal_input, "input")
        self.add(internal_pe)
        self.inputmappings[input_name] = (internal_pe, internal_input)

    def _map_output(self, output_name: str, internal_pe, internal_output: str) -> None:
        _check_port(internal_pe, internal_output, "output")
        self.add(internal_pe)
        self.outputmappings[output_name] = (internal_pe, internal_output)

    @property
    def id(self) -> str:
        return self.name


def create_iterative_chain(functions: Iterable, FunctionPE_class=SimpleFunctionPE,  # noqa: N803
                           name_prefix: str = "PE_", name_suffix: str = "") -> CompositePE:
    """A composite PE chaining ``functions`` (each ``fn`` or ``(fn, kwargs)``):
    input ``'input'`` feeds the first, output ``'output'`` comes from the last."""
    composite = CompositePE()
    prev = first = None
    for desc in functions:
        fn, params = (desc[0], desc[1]) if isinstance(desc, tuple | list) else (desc, {})
        pe = FunctionPE_class()
        pe.compute_fn, pe.params = fn, dict(params)
        pe.name = f"{name_prefix}{function_name(fn)}{name_suffix}"
        if prev is None:
            first = pe
        else:
            composite.connect(prev, IterativePE.OUTPUT_NAME, pe, IterativePE.INPUT_NAME)
        prev = pe
    if first is None:
        raise GraphError("create_iterative_chain needs at least one function")
    composite._map_input("input", first, IterativePE.INPUT_NAME)
    composite._map_output("output", prev, IterativePE.OUTPUT_NAME)
    return composite


def topological_order(nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable]],
                      key: Callable[[Any], Any] | None = None) -> list:
    """``nodes`` sources first, each after every node with an edge to it; ties
    go to the smallest ``key`` (the node itself by default), then to the
    earlier node: the order of networkx's ``lexicographical_topological_sort``.
    Raises :class:`GraphError` if the edges make a cycle."""
    nodes = list(nodes)
    index = {node: i for i, node in enumerate(nodes)}
    succ: dict[Any, list] = {node: [] for node in nodes}
    indegree = dict.fromkeys(nodes, 0)
    for a, b in edges:
        succ[a].append(b)
        indegree[b] += 1
    key = key or (lambda node: node)
    ready = [(key(n), index[n]) for n in nodes if indegree[n] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = nodes[heapq.heappop(ready)[1]]
        order.append(node)
        for nxt in succ[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (key(nxt), index[nxt]))
    if len(order) < len(nodes):
        raise GraphError("the workflow has a cycle; d4p workflows must be acyclic")
    return order


def find_cycle(nodes: Iterable[Hashable], edges: Iterable[tuple[Hashable, Hashable]]) -> list | None:
    """The nodes of one cycle (the first node repeated at the end), or ``None``."""
    succ: dict[Any, list] = {node: [] for node in nodes}
    for a, b in edges:
        succ[a].append(b)
    state: dict[Any, int] = {}  # 1: on the current path, 2: done
    for root in succ:
        if root in state:
            continue
        path, stack = [root], [iter(succ[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(succ[nxt]))
    return None


# -- helpers of this module ------------------------------------------------------------


def _label(obj) -> str:
    if isinstance(obj, WorkflowGraph):
        return f"composite {getattr(obj, 'name', type(obj).__name__)!r}"
    return f"PE {obj.id!r}" if isinstance(obj, GenericPE) else repr(obj)


def _mappings(obj, kind: str) -> dict:
    return getattr(obj, "inputmappings" if kind == "input" else "outputmappings", None) or {}


def _ports(obj, kind: str) -> dict:
    if isinstance(obj, GenericPE):
        _check_initialised(obj)
        return obj.inputconnections if kind == "input" else obj.outputconnections
    if isinstance(obj, WorkflowGraph):
        return _mappings(obj, kind)
    raise _not_a_pe(obj, "connect")


def _check_initialised(pe: GenericPE) -> None:
    if "_d4p_emit" not in vars(pe):
        raise GraphError(f"{type(pe).__name__} was not initialised: call super().__init__() "
                         "(or GenericPE.__init__(self)) in its __init__")


def _not_a_pe(obj, verb: str, where: str = "") -> GraphError:
    """What to say when ``obj``, given to ``verb`` (add, connect), is no PE."""
    where = f" {where}" if where else ""
    if isinstance(obj, type) and issubclass(obj, GenericPE | WorkflowGraph):
        return GraphError(f"cannot {verb} {obj.__name__}{where}: it is a PE class; {verb} an "
                          f"instance of it, such as {obj.__name__}()")
    return GraphError(f"cannot {verb} {obj!r}{where}: expected a PE (GenericPE subclass) or a "
                      "CompositePE")


def _check_port(obj, port: str, kind: str) -> None:
    ports = _ports(obj, kind)
    if not isinstance(port, str):
        raise GraphError(f"the {kind} of {_label(obj)} is named by a string such as "
                         f"{next(iter(ports), kind)!r}, not {port!r}")
    if port in ports:
        return
    known = ", ".join(repr(p) for p in ports) or "none"
    hint = _port_hint(obj, port, kind, ports)
    if isinstance(obj, WorkflowGraph):
        raise GraphError(
            f"{_label(obj)} has no {kind} {port!r} mapped{hint} (mapped {kind}s: {known}); "
            f"map it with _map_{kind}({port!r}, pe, port)"
        )
    raise GraphError(f"{_label(obj)} ({type(obj).__name__}) has no {kind} {port!r}{hint}; "
                     f"its {kind}s are: {known}")


def _port_hint(obj, port: str, kind: str, ports) -> str:
    """`` (did you mean ...?)`` for a misspelt port, or what to do when
    ``port`` is a port of the other kind (an output given as an input)."""
    from .errors import did_you_mean

    other = "input" if kind == "output" else "output"
    if port in _ports(obj, other):
        return (f" ({port!r} is one of its {other}s: connect(from_pe, output, to_pe, input) "
                "links an output of one PE to an input of another)")
    return did_you_mean(port, ports)


def _resolve(obj, name: str, kind: str) -> tuple:
    """Follow composite ``obj``'s mapping of its port ``name`` down to a plain
    PE and port; a GraphError names the composite and port when the mapping
    leads nowhere (dispel4py composites set ``inputmappings`` by hand)."""
    composite, port = obj, name
    while True:
        mapped = _mappings(composite, kind)
        if port not in mapped:
            known = ", ".join(repr(p) for p in mapped) or "none"
            raise GraphError(f"{_label(composite)} has no {kind} {port!r} mapped (mapped "
                             f"{kind}s: {known})")
        target = mapped[port]
        try:
            pe, inner = target
        except (TypeError, ValueError):
            raise GraphError(f"{_label(composite)} maps its {kind} {port!r} to {target!r}, "
                             "not to a (PE, port) pair") from None
        if isinstance(pe, WorkflowGraph):
            composite, port = pe, inner
            continue
        if not isinstance(pe, GenericPE):
            raise GraphError(f"{_label(composite)} maps its {kind} {port!r} to {pe!r}, "
                             "which is not a PE")
        if inner not in _ports(pe, kind):
            known = ", ".join(repr(p) for p in _ports(pe, kind)) or "none"
            raise GraphError(f"{_label(composite)} maps its {kind} {port!r} to {kind} "
                             f"{inner!r} of {_label(pe)}, which has no such {kind} (its "
                             f"{kind}s: {known})")
        return pe, inner


def _port_type(obj, port: str, kind: str):
    if isinstance(obj, WorkflowGraph):
        try:
            obj, port = _resolve(obj, port, kind)
        except GraphError:
            return None  # reported when the graph is flattened for a run, not when drawn
    return _ports(obj, kind)[port].get(TYPE)


def _check_types(from_pe, from_port, to_pe, to_port) -> None:
    out_t = _port_type(from_pe, from_port, "output")
    in_t = _port_type(to_pe, to_port, "input")
    if out_t is None or in_t is None or _feeds(out_t, in_t):
        return
    raise GraphError(
        f"type mismatch: {_label(from_pe)}.{from_port} produces {_type_name(out_t)} but "
        f"{_label(to_pe)}.{to_port} accepts {_type_name(in_t)}"
    )


def _feeds(out_t, in_t) -> bool:
    if isinstance(out_t, type) and isinstance(in_t, type | tuple):
        return issubclass(out_t, in_t) or in_t is object
    if isinstance(out_t, tuple) and all(isinstance(t, type) for t in out_t) \
            and isinstance(in_t, type | tuple):
        return all(issubclass(t, in_t) for t in out_t)
    if isinstance(out_t, list) and isinstance(in_t, list):  # dispel4py tuple field names
        return set(in_t) <= set(out_t)
    return True  # undecidable (typing constructs): do not refuse


def _type_name(t) -> str:
    if isinstance(t, type):
        return t.__name__
    if isinstance(t, tuple):
        return " | ".join(_type_name(x) for x in t)
    return repr(t)


def _grouping_label(pe, port: str) -> str:
    from .grouping import SHUFFLE, describe, normalise

    spec = pe.inputconnections[port].get(GROUPING)
    try:
        g = normalise(spec)
    except ValueError:
        return str(spec)
    return "" if g == SHUFFLE else describe(g)


def _unique_ids(pes: list[GenericPE]) -> None:
    """Renumber a PE whose id another PE of the flattened graph already has
    (the same PE class numbered alike in two composites)."""
    taken: set[str] = set()
    for pe in pes:
        if pe.id in taken:
            n = len(pes)
            while f"{pe.name}{n}" in taken or any(p.id == f"{pe.name}{n}" for p in pes):
                n += 1
            pe.id = f"{pe.name}{n}"
        taken.add(pe.id)


def _pe_key(pe: GenericPE) -> str:
    return pe.id


def _dot_escape(text: str) -> str:
    return "".join("\\" + c if c in '{}|<>"\\' else c for c in str(text))


def _mermaid_escape(text: str) -> str:
    import html

    return html.escape(str(text), quote=True)
