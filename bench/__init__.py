"""Benchmarks of smolmoe: each a module run from the repository root (`python -m bench.NAME --help`)."""
