"""The field apps of a whole regency, simulated: ``regsosek simulate`` (issue #6).

A stand-in for thousands of CAPI tablets, so the platform can be shown and
tested doing its real job. Generation is pure and seeded, publishing is the
edge:

* :mod:`~simulator.config` — what to simulate (scale, regency, seed, error rates);
* :mod:`~simulator.population` and :mod:`~simulator.geo` — the
  frame: districts, villages, SLS units, enumerators and supervisors, targets;
* :mod:`~simulator.people`, :mod:`~simulator.dwelling` and
  :mod:`~simulator.households` — realistic K-form records that pass
  every ERROR rule of :mod:`processors.rules`;
* :mod:`~simulator.injections` — the deliberate mistakes and the reason
  code each one must trigger;
* :mod:`~simulator.clock` and :mod:`~simulator.scenario` — the
  fieldwork month on a compressed clock: working hours, offline bursts,
  retries, revisions, as an ordered stream of dispatches;
* :mod:`~simulator.truth` — the ground truth the pipeline's tables
  must equal;
* :mod:`~simulator.transport` and :mod:`~simulator.runner` —
  the I/O: the SDK or the HTTP gateway, pacing, progress, Ctrl-C;
* :mod:`~simulator.demo` — ``regsosek demo``: broker, worker, gateway and
  simulator together, compared with the ground truth at the end;
* :mod:`simulator.cli` — the ``simulate`` and ``demo`` commands.

A tool outside the platform, like ``benchmarks/``: it may import the platform
(``schemas``, ``processors``, ``sinks``, ``monitoring``, ``streams``) and no
platform package imports it; the ``regsosek`` group finds its commands through
the ``regsosek.commands`` entry points (tests/unit/test_layers.py checks this).
"""
