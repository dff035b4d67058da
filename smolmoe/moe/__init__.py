"""The MoE: output formats (formats.py), assembling experts into one, routers (init and
training), hooks on the MoE blocks, growing and shrinking, attention adapters, the model card."""
