"""The MoE: output formats (formats.py), assembling experts into one, routers (init and
training), routing read from the model's outputs (router_outputs.py), hooks on the MoE blocks
(forcing an expert, the routers' inputs), growing and shrinking, attention adapters, the model
card."""
