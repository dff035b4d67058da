"""Reinforcement learning on any HF dir smolmoe loads (real models and scratch ones): GRPO/GSPO,
DPO, log-probs, verifiable tasks (arithmetic.py, the one arithmetic module), self-sampled DPO
pairs, reports."""
