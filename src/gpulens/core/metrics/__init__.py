"""Telemetry: the normalised schema, the GPU providers and system metrics."""
