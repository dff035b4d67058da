"""Typed configuration objects, loaded from YAML and validated with one-line errors."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import ConfigError
from .precision import Precision
from .settings import check, check_name, check_types, field_type, setting


# Requests outside every expert's domain (the data build's general split): test-only for the
# experts, router training for the base model's own FFN when it is an expert.
GENERAL_DOMAIN = "everyday"


def smolmoe_home() -> Path:
    """The one place everything goes by default (SMOLMOE_HOME, default ~/.cache/smolmoe).
    An empty, relative or unexpandable value is refused: it would put hundreds of MB wherever
    the command happens to run."""
    given = os.environ.get("SMOLMOE_HOME")
    if given is None:
        return Path("~/.cache/smolmoe").expanduser()
    try:
        home = Path(given).expanduser() if given.strip() else None
    except RuntimeError:   # ~user that does not exist, or no home directory to expand ~ to
        home = None
    if home is None or not home.is_absolute():
        reason = ("is empty" if not given.strip() else "starts with an unexpandable ~"
                  if given.startswith("~") else "is a relative path")
        raise ConfigError(f"SMOLMOE_HOME {reason} ({given!r}): set it to an absolute path, or "
                          f"unset it for ~/.cache/smolmoe")
    return home


# What lives under $SMOLMOE_HOME (or under the demo's --out): every default path comes from here.
HOME_LAYOUT = {
    "data": "data",          # smolmoe data build
    "experts": "experts",    # smolmoe train-expert: experts/NAME
    "moe": "moe",            # smolmoe assemble / train-router
    "baselines": "baselines",  # dense merges and the multitask model (eval --moe compares)
    "models": "models",      # the converted base model
    "sources": "sources",    # fetched data sources and wheels
    "tools": "tools",        # llama.cpp's converter
    "scratch": "scratch",    # smolmoe scratch run
    "compile": "compile-cache",  # torch.compile's kernels when SMOLMOE_COMPILE=1 (compiled.py)
}

# Longest reply when the caller does not say: `smolmoe chat`, the API and the web page.
DEFAULT_MAX_TOKENS = 256
# GGUF export: the tensor types it writes, and the llama-cpp-python release whose vendored
# llama.cpp gives the converter and runs the checks (scripts/install_llama_cpp.sh reads it here).
GGUF_TYPES = ("f32", "f16", "bf16", "q8_0")
GGUF_DEFAULT_TYPE = "f16"
LLAMA_CPP_PYTHON = "0.3.36"

# Requests one engine decodes together (continuous batching): the server's slots, a batch.
DECODE_SLOTS = 8


@dataclass
class ServerLimits:
    """What `smolmoe serve` accepts (its options are built from these fields)."""
    max_body_bytes: int = setting(1 << 20, ge=1, help="Largest request body accepted (413 beyond).")
    max_tokens: int = setting(1024, ge=1, help="Most tokens one reply may ask for.")
    default_max_tokens: int = DEFAULT_MAX_TOKENS   # when the request does not say
    max_prompt_tokens: int | None = setting(
        None, ge=1, help="Longest prompt accepted [default: the model's context - 1].")
    max_waiting: int = 64                          # requests decoding or queued (503 beyond)
    slots: int = setting(DECODE_SLOTS, ge=1, le=256, help="Requests decoded together "
                         "(continuous batching); more wait in a queue.")


# How `smolmoe chat` and the API sample when the caller does not say (the library's own
# GenerationSettings default to greedy decoding, which evaluations rely on).
CHAT_SAMPLING = {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1}


def home_path(kind: str, root: str | os.PathLike | None = None) -> Path:
    """Default location of `kind` (a HOME_LAYOUT key) under `root` (default $SMOLMOE_HOME)."""
    return Path(root).expanduser() / HOME_LAYOUT[kind] if root else smolmoe_home() / HOME_LAYOUT[kind]


def repo_root() -> Path:
    """The checkout that holds experts/ next to the package (this file is smolmoe/core/config.py)."""
    return Path(__file__).resolve().parents[2]


@dataclass
class TrainSettings:
    """Settings of the one training loop (training/loop.py); every stage fills these in."""
    steps: int = setting(40, ge=1, help="Optimizer steps.")
    lr: float = setting(1e-4, gt=0, le=1, help="Peak learning rate.")
    batch_size: int = setting(4, ge=1, le=4096, help="Sequences (or prompts) per micro-batch.")
    grad_accum: int = setting(1, ge=1, le=4096, help="Micro-batches per optimizer step.")
    seq_len: int = setting(256, ge=8, le=1 << 20, help="Longest row in tokens.")
    warmup_steps: int = setting(4, ge=0, help="Linear warmup before the cosine decay.")
    min_lr_ratio: float = setting(0.1, ge=0, le=1, help="The cosine decays to lr * this.")
    weight_decay: float = setting(0.0, ge=0, le=1, help="AdamW weight decay.")
    max_grad_norm: float = setting(1.0, ge=0, help="Gradient clipping norm.")
    seed: int = setting(0, help="Seed of the data order and sampling.")
    save_every: int = setting(0, ge=0, help="Checkpoint every N steps (0: only at the end).")
    precision: Precision = setting(
        "auto", help="Mixed precision; auto: bf16 where the GPU or CPU (AMX/AVX512-BF16) is fast at it.")
    optimizer: Literal["adamw", "adamw8bit"] = setting("adamw", help="adamw8bit needs bitsandbytes (small GPUs).")
    grad_checkpointing: bool = setting(False, help="Trade compute for memory (small GPUs).")

    def validate(self) -> "TrainSettings":
        return check(self)

    def updated(self, **overrides) -> "TrainSettings":
        """A copy with the given (non-None) fields replaced, validated."""
        return dataclasses.replace(
            self, **{k: v for k, v in overrides.items() if v is not None}).validate()


# `smolmoe train-router`'s loop: routers alone are few parameters, so a high rate and few steps.
ROUTER_TRAINING = TrainSettings(steps=30, lr=1e-3, batch_size=8, seq_len=256, warmup_steps=3)


def router_training(**overrides) -> TrainSettings:
    """ROUTER_TRAINING with the given (non-None) fields replaced; warmup stays below the steps."""
    s = ROUTER_TRAINING.updated(**overrides)
    return dataclasses.replace(s, warmup_steps=min(s.warmup_steps, s.steps - 1))


@dataclass
class RouterSettings:
    """What train-router adds to the training loop: its losses and what else it trains."""
    alpha: float = setting(0.01, ge=0, le=100, help="Weight of the load-balancing loss.")
    beta: float = setting(0.0, ge=0, le=100, help="Weight of router supervision: CE of each "
                                                  "router against the example's domain expert.")
    heal: Literal["none", "norms", "lora"] = setting(
        "none", help="Also train the shared weights lightly (after merging full fine-tunes): "
                     "every RMSNorm, or LoRA on attention (merged back).")
    per_domain: int = setting(400, ge=1, help="Training conversations per domain.")

    def validate(self) -> "RouterSettings":
        return check(self)


@dataclass
class DPOSettings:
    """What DPO adds to the training loop (scratch dpo, rl dpo)."""
    beta: float = setting(0.1, gt=0, help="DPO temperature: how far the policy may move from "
                                          "the reference.")

    def validate(self) -> "DPOSettings":
        return check(self)


@dataclass
class ExpertManifest:
    """experts/NAME.yaml: one domain expert and how to fine-tune it."""
    name: str
    domain: str
    description: str = ""
    recipe: str = ""
    positive_prompts: list[str] = field(default_factory=list)
    negative_prompts: list[str] = field(default_factory=list)
    trainable: Literal["mlp", "full"] = "mlp"
    finetune: TrainSettings = field(default_factory=TrainSettings)
    path: Path | None = None

    def validate(self) -> "ExpertManifest":
        if not self.name or not isinstance(self.name, str):
            raise ConfigError("expert manifest needs a name")
        where = str(self.path) if self.path else f"expert {self.name}"
        check_name(self.name, f"{where}: name")   # experts/NAME: never a path
        check_name(self.domain, f"{where}: domain")
        choices = field_type(ExpertManifest, "trainable").choices
        if self.trainable not in choices:
            raise ConfigError(f"expert {self.name}: trainable must be one of {', '.join(choices)}, "
                              f"got {self.trainable!r}")
        self.finetune.validate()
        return self


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid YAML ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _build(cls, data: dict, where: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    try:
        obj = cls(**data)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    return check_types(obj, where)


def _validated(obj, where: str):
    """obj.validate(), its one-line error naming the file it came from."""
    try:
        return obj.validate()
    except ConfigError as e:
        raise ConfigError(str(e) if str(e).startswith(where) else f"{where}: {e}") from None


def load_manifest(path: str | os.PathLike) -> ExpertManifest:
    path = Path(path)
    data = _read_yaml(path)
    finetune = data.pop("finetune", None) or {}
    if not isinstance(finetune, dict):
        raise ConfigError(f"{path}: finetune must be a mapping of training settings")
    ft = _validated(_build(TrainSettings, finetune, f"{path} finetune"), f"{path} finetune")
    data.setdefault("recipe", data.get("domain", ""))
    manifest = _build(ExpertManifest, {**data, "finetune": ft, "path": path}, str(path))
    return _validated(manifest, str(path))


def experts_dir() -> Path:
    return Path(os.environ.get("SMOLMOE_EXPERTS", repo_root() / "experts"))


def list_manifests(directory: str | os.PathLike | None = None) -> list[ExpertManifest]:
    directory = Path(directory) if directory else experts_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no expert manifests (*.yaml) in {directory}")
    return [load_manifest(f) for f in files]


def select_manifests(names, all_experts: bool = False) -> list[ExpertManifest]:
    """The named experts' manifests, or every one with all_experts (one of the two)."""
    if all_experts == bool(names):
        raise ConfigError("name the experts to train, or pass --all (not both)")
    return list_manifests() if all_experts else [find_manifest(n) for n in names]


def find_manifest(name: str, directory: str | os.PathLike | None = None) -> ExpertManifest:
    manifests = list_manifests(directory)
    for m in manifests:
        if m.name.lower() == name.lower():
            return m
    known = ", ".join(m.name for m in manifests)
    raise ConfigError(f"unknown expert '{name}' (known: {known})")


@dataclass
class MergeConfig:
    """What `smolmoe assemble` builds: which experts, how many per token, how routers start."""
    experts: list[str]             # expert names (under experts_root) or model directories
    output: str = ""
    base: str | None = None        # non-FFN weights come from here with non_ffn=base
    top_k: int = setting(2, ge=1, help="Experts per token.")
    router_init: Literal["random", "hidden", "fit"] = setting(
        "fit", help="How routers start: random, from prompt hidden states, or fitted on data.")
    non_ffn: str = setting("base", help="Attention, norms and embeddings from the base, the "
                                        "experts' average, or the named expert.")
    experts_root: str | None = None
    data: str | None = None        # data dir for router_init=fit
    fit_samples: int = setting(16, ge=1, help="Conversations per domain for the fit init.")
    seed: int = 0
    base_expert: bool | str = False  # the base's own FFN: True/"routed" = one more expert
                                     # ("general"), "shared" = Qwen2-MoE's shared expert

    def validate(self) -> "MergeConfig":
        if not isinstance(self.experts, list) or len(self.experts) < 2:
            raise ConfigError("a merge needs at least two experts")
        if len(set(self.experts)) != len(self.experts):
            raise ConfigError("the same expert is listed twice")
        check(self)
        if self.top_k > len(self.experts):
            raise ConfigError(f"top_k={self.top_k} is more than the {len(self.experts)} experts")
        if self.non_ffn not in ("base", "average") and self.non_ffn not in self.expert_names():
            raise ConfigError(f"non_ffn must be base, average or one of the experts "
                              f"({', '.join(self.expert_names())}), got {self.non_ffn!r}")
        if self.base_expert not in (False, True, "routed", "shared"):
            raise ConfigError(f"base_expert must be routed or shared, got {self.base_expert!r}")
        if self.base_expert and not self.base:
            raise ConfigError("base_expert needs the base model directory (--base)")
        return self

    def expert_names(self) -> list[str]:
        """Experts as assemble names them: the last part of a name or directory."""
        return [Path(str(e)).name for e in self.experts]


def load_merge_config(path: str | os.PathLike, **overrides) -> MergeConfig:
    data = _read_yaml(Path(path))
    data.update({k: v for k, v in overrides.items() if v is not None})
    return _validated(_build(MergeConfig, data, str(path)), str(path))


def export_path(source: str | os.PathLike, fmt: str, gguf_type: str = "f16") -> Path:
    """Where `smolmoe export` writes by default: MODEL_DIR-hf, or MODEL_DIR-TYPE.gguf."""
    stem = str(source).rstrip("/")
    return Path(f"{stem}-hf" if fmt == "hf" else f"{stem}-{gguf_type}.gguf")
