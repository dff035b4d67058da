"""PEFT LoRA adapters as experts: checked from their files alone, then folded into a dense expert.

An adapter directory (adapter_config.json + adapter_model.safetensors) together with its base is
an expert: its base with the adapter merged by peft's own `merge_and_unload`. A LoRA on the MLP
lands in that expert's FFN, so forced routing reproduces the adapter applied to the base. A LoRA
on attention changes weights every expert shares: the merged expert is then a "full fine-tune"
to assemble, whose --non-ffn choice and parity warning apply. Everything else is refused in one
line before any weight is read: other peft types, LoRA variants that do not fold into weights,
adapters touching embeddings, norms or the LM head, pickle-only adapters (never unpickled), and
adapters whose shapes or layers do not fit the base.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..core.errors import ModelError
from ..core.io import read_json, write_json
from ..core.modeldir import (EXPERT_META, check_model_dir, check_weights_fit, expert_domain, load_model,
                       load_tokenizer, read_config, weight_shapes)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
# LoRA options whose adapter is no fixed change of the weights (or changes what no expert owns).
UNFOLDABLE = {
    "alora_invocation_tokens": "an activated LoRA acts only after its invocation tokens",
    "arrow_config": "Arrow routes between several LoRAs per token",
    "monteclora_config": "MonteCLoRA samples its weights",
    "use_qalora": "QA-LoRA adapts a quantized model",
    "layer_replication": "layer replication adds layers the MoE does not have",
    "trainable_token_indices": "it trains embedding rows, which every expert shares",
    "target_parameters": "it targets raw parameters, not the MLP and attention projections",
}
# Where a LoRA may sit: a decoder layer's MLP (folded into the expert's FFN) or attention.
MODULE = re.compile(r"^model\.layers\.(\d+)\.(mlp|self_attn)\.(\w+)$")
LORA_PARTS = re.compile(r"\.(lora_A|lora_B|lora_magnitude_vector)(\.\w+)?\.weight$|"
                        r"\.lora_magnitude_vector$")
PROBE = [{"role": "user", "content": "Write one sentence about the sea."},
         {"role": "assistant", "content": "The sea is wide and deep."}]


def probe_ids(tokenizer):
    """The short conversation every parity check runs."""
    return tokenizer.apply_chat_template(PROBE, return_tensors="pt", return_dict=True)["input_ids"]


def is_adapter(path: Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


@dataclass
class Adapter:
    """A checked LoRA adapter: its base, and which decoder modules it changes."""
    path: Path
    base: Path
    config: dict
    mlp: list[str] = field(default_factory=list)        # modules folded into the FFN
    attention: list[str] = field(default_factory=list)  # modules every expert shares

    def record(self) -> dict:
        """What smolmoe.json says about this expert's source."""
        return {"base": str(self.base), "peft_type": "LORA", "r": self.config.get("r"),
                "use_dora": bool(self.config.get("use_dora")),
                "mlp_modules": len(self.mlp), "attention_modules": len(self.attention)}


def _refuse(path: Path, why: str) -> ModelError:
    return ModelError(f"adapter {path} cannot be an expert: {why}")


def adapter_base(path: Path, base: str | Path | None) -> Path:
    """The base an adapter folds into: `base` when given, else its config's
    base_model_name_or_path when that is a local model directory."""
    if base:
        return check_model_dir(Path(base))
    named = read_json(Path(path) / ADAPTER_CONFIG, ModelError).get("base_model_name_or_path")
    if named and Path(named).expanduser().is_dir():
        return check_model_dir(Path(named).expanduser())
    raise _refuse(path, f"its base {named!r} is not a local model directory: pass --base DIR")


def check_adapter(path: Path, base: str | Path | None = None) -> Adapter:
    """Refuse, in one line and from config and safetensors headers only, an adapter that cannot
    be folded into an expert of its base; return what it changes."""
    path = Path(path)
    config = read_json(path / ADAPTER_CONFIG, ModelError)
    if not isinstance(config, dict):
        raise _refuse(path, f"{ADAPTER_CONFIG} must be a JSON object")
    kind = config.get("peft_type")
    if kind != "LORA":
        raise _refuse(path, f"it is a peft {kind} adapter; only LoRA adapters fold into weights")
    for key, why in UNFOLDABLE.items():
        if config.get(key):
            raise _refuse(path, f"{key} is set ({why})")
    if config.get("bias", "none") != "none":
        raise _refuse(path, f"bias={config['bias']!r} trains biases the MoE's experts share")
    saved = config.get("modules_to_save") or []
    if saved:
        raise _refuse(path, f"modules_to_save ({', '.join(map(str, saved))}) replaces whole "
                            f"modules; only LoRA on the MLP and attention projections folds")
    if not (path / ADAPTER_WEIGHTS).is_file():
        pickles = sorted(p.name for p in path.glob("*.bin"))
        raise _refuse(path, f"no {ADAPTER_WEIGHTS}" + (
            f", only pickle files ({', '.join(pickles)}), which smolmoe never loads; convert "
            f"them to safetensors with a tool you trust" if pickles else ""))
    base = adapter_base(path, base)
    check_weights_fit(base)
    base_shapes = weight_shapes(base)
    layers = read_config(base).get("num_hidden_layers")
    found = Adapter(path, base, config)
    modules: dict[str, dict[str, tuple]] = {}
    for key, shape in weight_shapes(path).items():
        if not LORA_PARTS.search(key):
            raise _refuse(path, f"it holds {key}, which is no LoRA weight of a projection")
        module = LORA_PARTS.split(key)[0].removeprefix("base_model.model.")
        modules.setdefault(module, {})[LORA_PARTS.search(key).group(1) or "magnitude"] = shape
    for module, parts in modules.items():
        m = MODULE.match(module)
        if not m or f"{module}.weight" not in base_shapes:
            raise _refuse(path, f"it changes {module}, which every expert of the MoE shares "
                                f"(only MLP and attention projections of its base are allowed)")
        if layers is not None and int(m.group(1)) >= layers:
            raise _refuse(path, f"it changes layer {m.group(1)} but its base has {layers} layers")
        out_f, in_f = base_shapes[f"{module}.weight"]
        a, b = parts.get("lora_A"), parts.get("lora_B")
        if a is None or b is None or a[1] != in_f or b[0] != out_f:
            raise _refuse(path, f"its {module} LoRA is {list(b or [])} x {list(a or [])}, which "
                                f"does not fit the base's {out_f} x {in_f} weight: another base?")
        (found.mlp if m.group(2) == "mlp" else found.attention).append(module)
    if not modules:
        raise _refuse(path, "it holds no LoRA weights")
    return found


def files_sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for f in paths:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


def fold(adapter: Adapter, out_dir: Path) -> dict:
    """Write into out_dir (holding the stand-in's config and tokenizer) the weights of the base
    with the adapter merged by peft; return how far merging moved the probe's logits."""
    import torch
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_model(adapter.base), adapter.path)
    model.eval()
    ids = probe_ids(load_tokenizer(out_dir))
    with torch.no_grad():
        applied = model(input_ids=ids).logits
        merged = model.merge_and_unload()
        folded = merged(input_ids=ids).logits
    merged.save_pretrained(out_dir)
    return {"fold_max_abs_logit_diff": float((applied - folded).abs().max())}


class Folding:
    """Experts by name with every adapter among them standing in as a dense directory: first
    config and tokenizer only (so every check runs before any weight is read), then `fold()`
    writes the merged weights. `sources` says what smolmoe.json records for each adapter."""

    def __init__(self, dirs: dict[str, Path], base, workdir: Path):
        self.dirs = dict(dirs)
        self.adapters: dict[str, Adapter] = {}
        self.sources: dict[str, dict] = {}
        for name, path in dirs.items():
            if not is_adapter(path):
                continue
            adapter = check_adapter(path, base)
            stand_in = workdir / name
            stand_in.mkdir()
            shutil.copy(adapter.base / "config.json", stand_in / "config.json")
            has_tokenizer = any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))
            load_tokenizer(path if has_tokenizer else adapter.base).save_pretrained(stand_in)
            write_json(stand_in / EXPERT_META, {"domain": expert_domain(path)})
            self.adapters[name] = adapter
            self.dirs[name] = stand_in
            self.sources[name] = {
                "source": str(path), "weights_sha256": files_sha256([path / ADAPTER_WEIGHTS]),
                "adapter": adapter.record()}

    def fold(self) -> None:
        for name, adapter in self.adapters.items():
            self.sources[name]["adapter"].update(fold(adapter, self.dirs[name]))


@contextlib.contextmanager
def folding(dirs: dict[str, Path], base=None) -> Iterator[Folding]:
    """A `Folding` of dirs whose stand-ins live in a temp dir removed on exit."""
    with tempfile.TemporaryDirectory(prefix="smolmoe-adapters-") as tmp:
        yield Folding(dirs, base, Path(tmp))
