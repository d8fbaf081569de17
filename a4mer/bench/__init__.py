"""Benchmarks: metrics (numpy), in-betweening and extension protocols, reports."""
