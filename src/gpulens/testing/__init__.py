"""Stand-ins for tests, benchmarks and the demo-recording builder.

Nothing here is imported by the running service (``gpulens serve``,
``snapshot``, ``record``): ``tests/tooling/test_runtime_imports.py`` checks
that in a fresh interpreter. ``gpulens.testing.nvml.RecordedNvml`` answers
NVML calls from readings captured on real GPUs.
"""
