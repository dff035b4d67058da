"""Training: the one loop (loop.py), the stage runner every stage goes through (stage.py),
losses, LoRA and the expert fine-tunes."""
