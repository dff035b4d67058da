"""Training data: JSONL records, the chat format and the one label function (records.py),
the refusal rule (refusal.py), and recipes/, one builder per domain with its pinned sources."""
