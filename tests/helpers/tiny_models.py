"""The tiny models and data the tests build: a BPE tokenizer with ChatML tokens, a randomly
initialised Llama small enough to train in a second on a CPU, records per domain, and the
assembly of conftest's `trained` experts (tiny_moe.py and scratch_fixtures.py hold the MoE and
scratch-model builders)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import torch

from smolmoe.data.records import CHATML_TEMPLATE

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
WORDS = ("alpha beta gamma delta python code function return value story dragon castle "
         "sum plus minus number answer question user assistant system hello world the a of "
         "to is and write add two numbers apple banana cherry sql select from where table").split()


def make_tokenizer(directory: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    rng = random.Random(0)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(400)]
    corpus += [f"{a} + {b} = {a + b}" for a in range(30) for b in range(5)]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>",
                                   eos_token="<|im_end|>", pad_token="<|im_end|>",
                                   unk_token="<|endoftext|>")
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(directory)
    return fast


def make_llama(directory: Path, tokenizer, seed: int = 0, hidden: int = 32, vocab: int | None = None,
               layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab or len(tokenizer), hidden_size=hidden,
                         intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True, initializer_range=0.2,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return model


def domain_records(domain: str, n: int, seed: int = 0) -> list[dict]:
    """Tiny records whose answers follow a domain-specific pattern, so experts can learn it."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(0, 29), rng.randint(0, 4)
        if domain == "math":
            msgs = [{"role": "user", "content": f"add {a} plus {b}"},
                    {"role": "assistant", "content": f"{a} + {b} = {a + b}"}]
        else:
            w = rng.sample(WORDS[:12], 3)
            msgs = [{"role": "user", "content": f"write a story of {w[0]}"},
                    {"role": "assistant", "content": f"the dragon and the {w[1]} of the castle {w[2]}"}]
        out.append({"messages": msgs, "domain": domain, "source": "test", "group": f"{domain}-{i}"})
    return out


def write_domain(data_dir: Path, domain: str, n_train=40, n_eval=8, seed=0):
    d = data_dir / domain
    d.mkdir(parents=True, exist_ok=True)
    for split, n, s in (("train", n_train, seed), ("val", n_eval, seed + 1), ("test", n_eval, seed + 2)):
        (d / f"{split}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in domain_records(domain, n, s)))


DOMAINS = ("math", "story")


def merge_trained(trained, out, **kw):
    """Assemble `trained`'s experts into an MoE at out (MergeConfig fields as kw); its metadata."""
    from smolmoe.moe.assemble import assemble
    from smolmoe.core.config import ExpertManifest, MergeConfig

    manifests = {d: ExpertManifest(name=d, domain=d, positive_prompts=[f"{d} prompt", "add 1 plus 2"])
                 for d in DOMAINS}
    cfg = MergeConfig(experts=list(DOMAINS), output=str(out), data=str(trained / "data"),
                      base=str(trained / "base"), **kw)
    return assemble(cfg, experts_root=trained / "experts", manifests=manifests)
