"""Task metrics: judge models by what they answer, one rule per domain (docs/eval.md).

- answers.py: short answers (thinker final answer, encyclopedia key answer, value answers);
- sql.py: analyst execution accuracy on seeded sqlite databases built from the prompt's schema;
- code.py: coder replies parse, define what was asked and pass the given examples;
- text.py: ROUGE-L and degenerate replies (writer, summarizer, actor);
- metrics.py: the per-domain dispatch, refusal rates (smolmoe.data.refusal);
- run.py: batched greedy generation (smolmoe.inference.generate) over the splits, and the report.
"""
