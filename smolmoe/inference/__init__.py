"""Decoding: the one engine (engine.py), chat generation over it (generate.py), the terminal
chat (chat.py) and CPU weight packing (packing.py)."""
