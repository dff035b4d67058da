"""Reinforcement learning on real models (any HF dir smolmoe loads): tasks, DPO pairs, reports."""
