"""`smolmoe export`: a checked HF directory (hf.py) or GGUF file (gguf.py, built on the HF export)."""
