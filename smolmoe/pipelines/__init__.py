"""The pipelines as library calls: the stage sequencer both share (sequencer.py), the MoE
pipeline (moe.py) and the from-scratch pipeline (scratch.py)."""
