"""`smolmoe inspect`: which experts handled a prompt (and a generated answer), layer by layer."""
from __future__ import annotations

from pathlib import Path

import torch

from .base import load_model, load_tokenizer
from .data import ensure_template
from .hooks import capture_routing, layer_summary, token_top1, usage_share
from .surgery import read_meta


def _view(record, texts: list[str], names: list[str], k: int, layer: int | None,
          positions: torch.Tensor) -> dict:
    """Routing summaries over the given token positions; texts[i] is the token at positions[i]."""
    top1 = token_top1(record, layer)
    return {
        "layers": layer_summary(record, names, k, positions),
        "usage": dict(zip(names, usage_share(record, len(names), k, positions).tolist())),
        "tokens": [(t, names[top1[p]]) for t, p in zip(texts, positions.tolist())],
    }


@torch.no_grad()
def inspect_prompt(moe_dir: str | Path, prompt: str, *, generate: int = 0,
                   layer: int | None = None, model=None, tokenizer=None) -> dict:
    """Routing of the prompt's own tokens (and of up to `generate` answer tokens).

    Only the user's text is counted for the prompt: the template's fixed system prompt would
    look the same for every prompt.
    """
    meta = read_meta(moe_dir)
    names = [e["name"] for e in meta["experts"]]
    model = model or load_model(moe_dir)
    tokenizer = ensure_template(tokenizer or load_tokenizer(moe_dir))
    n_layers = model.config.num_hidden_layers
    if layer is not None and not 0 <= layer < n_layers:
        from .errors import ConfigError
        raise ConfigError(f"--layer must be between 0 and {n_layers - 1}, got {layer}")
    k = model.config.num_experts_per_tok
    messages = [{"role": "user", "content": prompt}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    start = text.rfind(prompt)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = torch.tensor([enc["input_ids"]])
    limit = model.config.max_position_embeddings
    if ids.shape[1] + generate > limit:
        from .errors import ConfigError
        raise ConfigError(f"prompt of {ids.shape[1]} tokens (+{generate} to generate) is longer "
                          f"than the model's context of {limit} tokens")
    user = torch.tensor([i for i, (a, b) in enumerate(enc["offset_mapping"])
                         if b > a and start <= a < start + len(prompt)])
    texts = [tokenizer.decode([enc["input_ids"][p]]) for p in user.tolist()]
    with capture_routing(model) as rec:
        model(input_ids=ids)
    report = {"prompt": prompt, "experts": names, "top_k": k, "layer": layer,
              "prompt_view": _view(rec, texts, names, k, layer, user)}
    if generate:
        with capture_routing(model) as rec:
            out = model.generate(input_ids=ids, max_new_tokens=generate, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        new = out[0, ids.shape[1]:].tolist()
        # The first forward covers the prompt and predicts the first answer token; each later
        # one feeds the previous token. Token i of the answer was chosen at position n-1+i.
        positions = torch.arange(ids.shape[1] - 1, ids.shape[1] - 1 + len(new))
        report["answer"] = tokenizer.decode(new, skip_special_tokens=True)
        report["answer_view"] = _view(rec, [tokenizer.decode([t]) for t in new], names, k,
                                      layer, positions) if new else None
    return report
