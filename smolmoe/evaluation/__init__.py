"""Measuring models: held-out losses vs base, oracle and merges (loss.py), task metrics on
generated answers (tasks/), dense baselines, cost, and which experts a prompt reaches."""
