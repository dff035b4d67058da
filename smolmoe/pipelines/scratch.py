"""`smolmoe scratch run`: data -> tokenizer -> pretrain -> SFT in one call, with a report.

Each stage writes its own directory under the run root, so a stage can be re-run alone with
its own command; the report holds held-out losses before and after each training stage.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..core.io import check_writable_target, write_json
from ..core.modeldir import load_model, load_tokenizer
from ..data.records import load_records
from ..rl import arithmetic
from ..scratch import corpus
from ..scratch.budgets import RUN_SETTINGS
from ..scratch.pretrain import init_model, pretrain
from ..scratch.sft import sft
from ..scratch.thinking import chat
from ..scratch.tokenizer import train_tokenizer
from .sequencer import Progress, Stages

SAMPLE_PROMPTS = ["What is AI?", "你好吗", "Tom has 12 apples. Tom gets 7 more. How many apples does Tom have now?"]


def run(preset: str, out_root: str | os.PathLike, fetch, *, pretrain_steps: int | None = None,
        sft_steps: int | None = None, overwrite: bool = False,
        on_stage: Callable[[str], None] | None = None, progress: Progress = Progress()) -> dict:
    """Run every stage; return (and write to out_root/report.json) the report, with each
    stage's seconds under timings_s."""
    from ..scratch.presets import get_preset
    get_preset(preset)
    out = Path(out_root)
    check_writable_target(out, overwrite)
    plan = RUN_SETTINGS[preset]
    pre_settings = plan["pretrain"].updated(steps=pretrain_steps)
    sft_settings = plan["sft"].updated(steps=sft_steps)
    stages = Stages(on_stage)
    report: dict = {"preset": preset, "stages": {}}

    def stage_dir(name: str) -> Path:
        return out / name

    out.mkdir(parents=True, exist_ok=True)
    with stages.stage("data"):
        report["data"] = corpus.build_stage_data(out / "data", fetch, overwrite=True)
        texts = corpus.load_texts(out / "data/pretrain/train.jsonl")
        val_texts = corpus.load_texts(out / "data/pretrain/val.jsonl")

    with stages.stage("tokenizer"):
        tok = train_tokenizer(texts, stage_dir("tokenizer"), plan["vocab_size"], overwrite=True)
    report["stages"]["tokenizer"] = {"vocab_size": len(tok), "seconds": stages.timings["tokenizer"]}

    with stages.stage("init"):
        report["parameters"] = init_model(preset, stage_dir("tokenizer"), stage_dir("init"),
                                          overwrite=True)

    with stages.stage("pretrain"), progress.steps(pre_settings.steps, "pretrain", ("loss",)) as on_step:
        report["stages"]["pretrain"] = pretrain(stage_dir("init"), texts, val_texts,
                                                stage_dir("pretrain"), pre_settings,
                                                overwrite=True, on_step=on_step)

    with stages.stage("sft"), progress.steps(sft_settings.steps, "sft", ("loss",)) as on_step:
        records = load_records(out / "data/sft/train.jsonl")
        val_records = load_records(out / "data/sft/val.jsonl")
        report["stages"]["sft"] = sft(stage_dir("pretrain"), records, val_records, stage_dir("sft"),
                                      sft_settings, overwrite=True, on_step=on_step)

    with stages.stage("check"):
        model, tokenizer = load_model(stage_dir("sft")), load_tokenizer(stage_dir("sft"))
        replies = chat(model, tokenizer, [[{"role": "user", "content": p}] for p in SAMPLE_PROMPTS],
                       think=None, max_new_tokens=64)
        report["samples"] = [{"prompt": p, **r} for p, r in zip(SAMPLE_PROMPTS, replies)]
        test = corpus.load_prompt_records(out / "data/grpo/test.jsonl", ("answer",))
        report["arithmetic_test"] = arithmetic.accuracy(model, tokenizer, test[:200])
    report["timings_s"] = stages.timings
    report["seconds"] = round(stages.elapsed(), 1)
    write_json(out / "report.json", report)
    return report
