"""`smolmoe scratch run`: data -> tokenizer -> pretrain -> SFT in one call, with a report.

Each stage writes its own directory under the run root, so a stage can be re-run alone with
its own command; the report holds held-out losses before and after each training stage.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from ..base import load_model, load_tokenizer
from ..data import load_records
from ..io import check_writable_target, write_json
from . import arithmetic, corpus
from .budgets import RUN_SETTINGS
from .pretrain import init_model, pretrain
from .sft import sft
from .thinking import chat
from .tokenizer import train_tokenizer

SAMPLE_PROMPTS = ["What is AI?", "你好吗", "Tom has 12 apples. Tom gets 7 more. How many apples does Tom have now?"]


def run(preset: str, out_root: str | os.PathLike, fetch, *, pretrain_steps: int | None = None,
        sft_steps: int | None = None, overwrite: bool = False,
        on_stage: Callable[[str], None] | None = None,
        progress: Callable[[str, int], object] | None = None) -> dict:
    """Run every stage; return (and write to out_root/report.json) the report.

    progress(stage, total_steps) may return a context manager yielding an on_step callback.
    """
    from contextlib import nullcontext

    from .presets import get_preset
    get_preset(preset)
    out = Path(out_root)
    check_writable_target(out, overwrite)
    plan = RUN_SETTINGS[preset]
    pre_settings = plan["pretrain"].updated(steps=pretrain_steps)
    sft_settings = plan["sft"].updated(steps=sft_steps)
    say = on_stage or (lambda s: None)
    bar = progress or (lambda stage, total: nullcontext(None))
    report: dict = {"preset": preset, "stages": {}}
    t0 = time.perf_counter()

    def stage_dir(name: str) -> Path:
        return out / name

    out.mkdir(parents=True, exist_ok=True)
    say("data")
    report["data"] = corpus.build_stage_data(out / "data", fetch, overwrite=True)
    texts = corpus.load_texts(out / "data/pretrain/train.jsonl")
    val_texts = corpus.load_texts(out / "data/pretrain/val.jsonl")

    say("tokenizer")
    t = time.perf_counter()
    tok = train_tokenizer(texts, stage_dir("tokenizer"), plan["vocab_size"], overwrite=True)
    report["stages"]["tokenizer"] = {"vocab_size": len(tok), "seconds": round(time.perf_counter() - t, 1)}

    say("init")
    report["parameters"] = init_model(preset, stage_dir("tokenizer"), stage_dir("init"), overwrite=True)

    say("pretrain")
    with bar("pretrain", pre_settings.steps) as on_step:
        report["stages"]["pretrain"] = pretrain(stage_dir("init"), texts, val_texts,
                                                stage_dir("pretrain"), pre_settings,
                                                overwrite=True, on_step=on_step)

    say("sft")
    records = load_records(out / "data/sft/train.jsonl")
    val_records = load_records(out / "data/sft/val.jsonl")
    with bar("sft", sft_settings.steps) as on_step:
        report["stages"]["sft"] = sft(stage_dir("pretrain"), records, val_records, stage_dir("sft"),
                                      sft_settings, overwrite=True, on_step=on_step)

    say("check")
    model, tokenizer = load_model(stage_dir("sft")), load_tokenizer(stage_dir("sft"))
    replies = chat(model, tokenizer, [[{"role": "user", "content": p}] for p in SAMPLE_PROMPTS],
                   think=None, max_new_tokens=64)
    report["samples"] = [{"prompt": p, **r} for p, r in zip(SAMPLE_PROMPTS, replies)]
    test = corpus.load_prompt_records(out / "data/grpo/test.jsonl", ("answer",))
    report["arithmetic_test"] = arithmetic.accuracy(model, tokenizer, test[:200])
    report["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(out / "report.json", report)
    return report
