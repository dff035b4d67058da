"""Decoding: the one engine (engine.py), chat generation over it (generate.py), the terminal
chat (chat.py), CPU weight packing (packing.py), weight-only int8 (quant.py) and the opt-in
compiled decoder (compiled.py)."""
