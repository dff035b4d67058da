"""`smolmoe inspect`: which experts handled a prompt (and a generated answer), layer by layer."""
from __future__ import annotations

from pathlib import Path

import torch

from ..core.errors import ConfigError, DataError
from ..core.modeldir import load_tokenizer, read_config
from ..data.records import ensure_template, render_chat
from ..moe.hooks import RoutingRecord, layer_summary, token_top1, usage_share
from ..moe.meta import read_moe_meta
from ..moe.router_outputs import forward, routing_record


def token_spans(tokenizer, ids: list[int]) -> list[tuple[str, list[int]]]:
    """(text, indices into ids) per piece of text: tokens that each hold only part of a
    character (an emoji is several byte-level tokens) are decoded together, so no piece is '\ufffd'."""
    spans, start = [], 0
    for i in range(len(ids)):
        text = tokenizer.decode(ids[start:i + 1])
        if text.endswith("\ufffd") and i + 1 < len(ids):
            continue   # an incomplete character: the next token finishes it
        spans.append((text, list(range(start, i + 1))))
        start = i + 1
    return spans


def _view(record, tokenizer, ids: list[int], names: list[str], k: int, layer: int | None,
          positions: torch.Tensor) -> dict:
    """Routing summaries over the given token positions; ids[i] is the token at positions[i].
    Per-token entries are text pieces: a piece made of several tokens that went to different
    experts names them all, e.g. 'coder/writer'."""
    top1 = token_top1(record, layer)
    at = positions.tolist()
    tokens = []
    for text, idx in token_spans(tokenizer, ids):
        experts = list(dict.fromkeys(names[top1[at[i]]] for i in idx))
        tokens.append((text, "/".join(experts)))
    return {
        "layers": layer_summary(record, names, k, positions),
        "usage": dict(zip(names, usage_share(record, len(names), k, positions).tolist())),
        "tokens": tokens,
    }


@torch.no_grad()
def inspect_prompt(moe_dir: str | Path, prompt: str, *, generate: int = 0,
                   layer: int | None = None, model=None, tokenizer=None,
                   dtype: str = "float32") -> dict:
    """Routing of the prompt's own tokens (and of up to `generate` answer tokens).

    Only the user's text is counted for the prompt: the template's fixed system prompt would
    look the same for every prompt.
    """
    # The cheap checks come first: loading the model takes seconds.
    if not prompt.strip():
        raise DataError("the prompt is empty: give the text to inspect")
    names = read_moe_meta(moe_dir).names
    n_layers = read_config(moe_dir).get("num_hidden_layers")
    if layer is not None and isinstance(n_layers, int) and not 0 <= layer < n_layers:
        raise ConfigError(f"--layer must be between 0 and {n_layers - 1}, got {layer}")
    from ..inference.quant import load_for_decoding
    model = model or load_for_decoding(moe_dir, dtype)
    tokenizer = ensure_template(tokenizer or load_tokenizer(moe_dir))
    k = model.config.num_experts_per_tok
    messages = [{"role": "user", "content": prompt}]
    text = render_chat(tokenizer, messages, add_generation_prompt=True)
    start = text.rfind(prompt)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = torch.tensor([enc["input_ids"]])
    limit = model.config.max_position_embeddings
    if ids.shape[1] + generate > limit:
        raise ConfigError(f"prompt of {ids.shape[1]} tokens (+{generate} to generate) is longer "
                          f"than the model's context of {limit} tokens")
    user = torch.tensor([i for i, (a, b) in enumerate(enc["offset_mapping"])
                         if b > a and start <= a < start + len(prompt)])
    if user.numel() == 0:
        raise DataError("the prompt has no tokens of its own once templated")
    _, router_logits, _ = forward(model, ids, routing=True, logits_to_keep=1)
    rec = routing_record(router_logits)
    report = {"prompt": prompt, "experts": names, "top_k": k, "layer": layer,
              "prompt_view": _view(rec, tokenizer, [enc["input_ids"][p] for p in user.tolist()],
                                   names, k, layer, user)}
    if generate:
        from ..inference.engine import Engine, TokenRules
        from ..inference.generate import GenerationSettings
        engine = Engine(model, TokenRules.of(model, tokenizer), slots=1)
        seq = engine.add(enc["input_ids"], GenerationSettings(max_new_tokens=generate), routing=True)
        engine.run()
        new = seq.tokens
        # Each answer token's router logits come from the position that chose it.
        rec = RoutingRecord({l: [torch.stack([r[l] for r in seq.router_logits])]
                             for l in range(len(seq.router_logits[0]))}) if new else None
        report["answer"] = tokenizer.decode(new, skip_special_tokens=True)
        report["answer_view"] = _view(rec, tokenizer, new, names, k, layer,
                                      torch.arange(len(new))) if new else None
    return report
