"""DPO on chosen/rejected pairs, on the shared training loop.

Why not TRL's DPOTrainer: it brings its own Trainer loop (and datasets/pandas/pyarrow), while
every stage here must run through smolmoe.training.loop (one schedule, checkpoint and resume). The DPO
loss is a few lines: -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), with the
reference log-probs computed once, before training, by the starting model.
"""
from __future__ import annotations

import os
from typing import Callable

import torch
import torch.nn.functional as F

from ..core.config import DPOSettings, TrainSettings
from ..core.errors import DataError
from ..data.records import StepBatches, collate, encode_chat
from ..training.lora import LoraSettings, lora_wrap
from ..training.stage import Plan, Stage, run_stage, sample_for_steps, summary
from .logprobs import sequence_logps


def pair_examples(tokenizer, records: list[dict], max_len: int) -> list[dict]:
    """Each record -> {"chosen": encoded, "rejected": encoded} (assistant-only labels)."""
    out = []
    for r in records:
        enc = [encode_chat(tokenizer, r["messages"] + [{"role": "assistant", "content": r[k]}], max_len)
               for k in ("chosen", "rejected")]
        if all(enc):
            out.append({"chosen": enc[0], "rejected": enc[1], "kind": r.get("kind", "all")})
    if not out:
        raise DataError("no preference pairs left after encoding (too long for seq_len?)")
    return out


def pair_batch(pairs: list[dict], pad_id: int) -> dict:
    """Chosen rows first, then rejected rows, in one right-padded batch."""
    batch = collate([p["chosen"] for p in pairs] + [p["rejected"] for p in pairs], pad_id)
    if "ref" in pairs[0]:
        batch["ref"] = torch.tensor([p["ref"][0] for p in pairs] + [p["ref"][1] for p in pairs])
    return batch


class PairBatches(StepBatches):
    """StepBatches over pairs: same seeded order, so resume is exact."""

    def batch(self, step, micro=0, grad_accum=1, rank=0, world=1):
        idx = self.indices(step, micro, grad_accum, rank, world)
        return pair_batch([self.examples[i] for i in idx], self.pad_id)


@torch.no_grad()
def pair_logps(model, pairs: list[dict], pad_id: int, batch_size: int = 16,
               mean: bool = False) -> list[tuple[float, float]]:
    model.eval()
    out = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        lp = sequence_logps(model, pair_batch(chunk, pad_id), mean).tolist()
        out += list(zip(lp[:len(chunk)], lp[len(chunk):]))
    return out


def preference_share(model, pairs: list[dict], pad_id: int) -> float:
    """Share of pairs where the model gives the chosen reply the higher log-probability per
    token (per token, so that a longer reply is not dispreferred for its length alone)."""
    lps = pair_logps(model, pairs, pad_id, mean=True)
    return sum(c > r for c, r in lps) / len(lps)


def preference_by_kind(model, pairs: list[dict], pad_id: int) -> dict[str, float]:
    """preference_share overall ("all") and per pair kind, when the records name one."""
    out = {"all": preference_share(model, pairs, pad_id)}
    for kind in sorted({p["kind"] for p in pairs} - {"all"}):
        out[kind] = preference_share(model, [p for p in pairs if p["kind"] == kind], pad_id)
    return out


def dpo_loss(beta: float):
    def loss_fn(model, batch):
        lp = sequence_logps(model, batch) - batch["ref"]
        n = lp.shape[0] // 2
        margin = beta * (lp[:n] - lp[n:])
        loss = -F.logsigmoid(margin).mean()
        return loss, {"loss": loss.detach(), "reward_acc": (margin > 0).float().mean(),
                      "margin": margin.mean().detach()}
    return loss_fn


def dpo(model_dir: str | os.PathLike, records: list[dict], val_records: list[dict],
        out_dir: str | os.PathLike, settings: TrainSettings, *, beta: float = DPOSettings.beta,
        lora: LoraSettings | None = None, resume: bool = False, overwrite: bool = False,
        on_step: Callable[[dict], None] | None = None) -> dict:
    def prepare(model, tokenizer, _inputs):
        pad = tokenizer.pad_token_id
        pairs = pair_examples(tokenizer, sample_for_steps(records, settings), settings.seq_len)
        val = pair_examples(tokenizer, val_records, settings.seq_len)
        for p, ref in zip(pairs, pair_logps(model, pairs, pad)):   # the starting model's
            p["ref"] = ref

        def report(result, before, after):
            return summary("dpo", result, settings, beta=beta, val_preference_before=before["all"],
                           val_preference_after=after["all"],
                           val_preference_by_kind={"before": before, "after": after},
                           val_pairs=len(val), source=str(model_dir), lora=bool(lora))

        return Plan(PairBatches(pairs, settings.batch_size, pad, settings.seed), report,
                    loss_fn=dpo_loss(beta), measure=lambda m: preference_by_kind(m, val, pad),
                    wrap=lora_wrap(lora), adapter=bool(lora))

    return run_stage(Stage(model_dir, out_dir, settings, prepare, overwrite=overwrite,
                           resume=resume, on_step=on_step))
