"""`smolmoe export`: a checked HF directory or GGUF file."""
