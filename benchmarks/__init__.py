"""End-to-end benchmarks on the local real stack (issue #8): ``python -m benchmarks.run``.

Not a stage of the data path: it drives one (a real broker, real workers as
child processes, the real embedded ClickHouse engine) and measures it. It may
import every package and the test harness; nothing imports it. The
micro-benchmarks of decode, rules and row building live in
``tests/unit/test_bench_micro.py`` (pytest-benchmark).
"""
