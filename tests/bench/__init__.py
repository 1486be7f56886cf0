"""paycode's benchmarks: what the framework costs beside the hardware and the network.

Run them all with ``python -m tests.bench`` (``python3 dev.py bench``); docs/benchmarks.md
explains every figure. One module per benchmark, each with ``run(cfg)`` returning
:class:`~tests.bench._measure.Figure` and :class:`~tests.bench._measure.Check` values.
pytest does not collect this folder; tests/test_bench_smoke.py runs ``--quick``.
"""
