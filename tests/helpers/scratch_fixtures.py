"""Tiny data and models for the scratch tests: a bilingual BPE tokenizer trained on generated
text, and a 2-layer MoE of the tiny preset's shape (dense first layer, shared expert, top-2)."""
from __future__ import annotations

import random

from smolmoe.rl import arithmetic

EN = ("the cat sat on the mat and the dog ran in the park while a bird sang in the tree "
      "python functions return values and classes hold methods").split()
ZH = list("我们今天天气很好人民日报新年讲话中国经济发展希望世纪你好吗谢谢")


def bilingual_texts(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 3 == 2:
            out.append("".join(rng.choice(ZH) for _ in range(30)))
        else:
            out.append(" ".join(rng.choice(EN) for _ in range(25)))
    out += [f"{p.question}\n{p.thinking}. {p.reply(False)}" for p in arithmetic.problems(150, "train")]
    return out


def make_scratch_model(tmp_path_factory, layers: int = 2, hidden: int = 64, seed: int = 0):
    from smolmoe.scratch.pretrain import init_model
    from smolmoe.scratch.tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("scratch")
    train_tokenizer(bilingual_texts(), root / "tok", vocab_size=512)
    init_model("tiny", root / "tok", root / "model", seed=seed, layers=layers, hidden_size=hidden,
               expert_size=64, shared_expert_size=64, dense_size=128, experts=4)
    return root
