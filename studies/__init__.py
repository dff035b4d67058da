"""Measurements of smolmoe: each a module run from the repository root (`python -m studies.NAME --help`)."""
