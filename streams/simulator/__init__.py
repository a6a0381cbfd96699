"""The field apps of a whole regency, simulated: ``regsosek simulate`` (issue #6).

A stand-in for thousands of CAPI tablets, so the platform can be shown and
tested doing its real job. Generation is pure and seeded, publishing is the
edge:

* :mod:`~streams.simulator.config` — what to simulate (scale, regency, seed, error rates);
* :mod:`~streams.simulator.population` and :mod:`~streams.simulator.geo` — the
  frame: districts, villages, SLS units, enumerators and supervisors, targets;
* :mod:`~streams.simulator.people`, :mod:`~streams.simulator.dwelling` and
  :mod:`~streams.simulator.households` — realistic K-form records that pass
  every ERROR rule of :mod:`processors.rules`;
* :mod:`~streams.simulator.injections` — the deliberate mistakes and the reason
  code each one must trigger;
* :mod:`~streams.simulator.clock` and :mod:`~streams.simulator.scenario` — the
  fieldwork month on a compressed clock: working hours, offline bursts,
  retries, revisions, as an ordered stream of dispatches;
* :mod:`~streams.simulator.truth` — the ground truth the pipeline's tables
  must equal;
* :mod:`~streams.simulator.transport` and :mod:`~streams.simulator.runner` —
  the I/O: the SDK or the HTTP gateway, pacing, progress, Ctrl-C.

May import ``schemas``, ``processors`` and the other ``streams`` modules; nothing
imports it except the CLI and tests.
"""
