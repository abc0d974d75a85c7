"""dispel4py's API on d4p: port a dispel4py program by replacing ``dispel4py``
with ``d4p.compat`` in its import lines, and nothing else::

    from d4p.compat.workflow_graph import WorkflowGraph      # was dispel4py.workflow_graph
    from d4p.compat.new import simple_process                 # was dispel4py.new

The modules mirror dispel4py's (``core``, ``base``, ``workflow_graph``,
``utils``, ``new.simple_process``, ``new.multi_process``, ``new.mpi_process``,
``new.processor``, ``new.aggregate``, ``new.monitoring``, ``visualisation``,
``examples.graph_testing.testing_PEs``) and return what
dispel4py's return, built on :func:`d4p.run`: a thin translation layer, not a
second engine. New code uses ``d4p`` itself. What differs on purpose, and
which dispel4py bugs are not reproduced, is listed in the d4p-core README
("Porting from dispel4py").
"""
