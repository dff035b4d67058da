"""Typed configuration objects, loaded from YAML and validated with one-line errors."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .precision import CHOICES as PRECISIONS


# Requests outside every expert's domain (the data build's general split): test-only for the
# experts, router training for the base model's own FFN when it is an expert.
GENERAL_DOMAIN = "everyday"


def smolmoe_home() -> Path:
    """The one place everything goes by default (SMOLMOE_HOME, default ~/.cache/smolmoe)."""
    return Path(os.environ.get("SMOLMOE_HOME", "~/.cache/smolmoe")).expanduser()


# What lives under $SMOLMOE_HOME (or under the demo's --out): every default path comes from here.
HOME_LAYOUT = {
    "data": "data",          # smolmoe data build
    "experts": "experts",    # smolmoe train-expert: experts/NAME
    "moe": "moe",            # smolmoe assemble / train-router
    "models": "models",      # the converted base model
    "sources": "sources",    # fetched data sources and wheels
    "tools": "tools",        # llama.cpp's converter
    "scratch": "scratch",    # smolmoe scratch run
}

# Longest reply when the caller does not say: `smolmoe chat`, the API and the web page.
DEFAULT_MAX_TOKENS = 256


def home_path(kind: str, root: str | os.PathLike | None = None) -> Path:
    """Default location of `kind` (a HOME_LAYOUT key) under `root` (default $SMOLMOE_HOME)."""
    return Path(root).expanduser() / HOME_LAYOUT[kind] if root else smolmoe_home() / HOME_LAYOUT[kind]


def repo_root() -> Path:
    """The checkout that holds experts/ and data_recipes/ next to the package."""
    return Path(__file__).resolve().parent.parent


def _check_range(name: str, value, lo=None, hi=None, kind=(int, float)):
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):  # nan slips through every comparison below
        raise ConfigError(f"{name} must be a finite number, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise ConfigError(f"{name} must be {bounds}, got {value}")


@dataclass
class TrainSettings:
    """Settings of the one training loop (train.py); every stage fills these in."""
    steps: int = 40
    lr: float = 1e-4
    batch_size: int = 4
    grad_accum: int = 1
    seq_len: int = 256
    warmup_steps: int = 4
    min_lr_ratio: float = 0.1      # cosine decays to lr * min_lr_ratio
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    save_every: int = 0            # checkpoint every N steps (0: only at the end)
    precision: str = "auto"        # mixed precision: auto | no | bf16 | fp16 (see precision.py)
    optimizer: str = "adamw"       # adamw | adamw8bit (bitsandbytes, for small GPUs)
    grad_checkpointing: bool = False

    def validate(self) -> "TrainSettings":
        _check_range("steps", self.steps, 1, kind=int)
        _check_range("lr", self.lr, 0.0, 1.0)
        _check_range("batch_size", self.batch_size, 1, 4096, kind=int)
        _check_range("grad_accum", self.grad_accum, 1, 4096, kind=int)
        _check_range("seq_len", self.seq_len, 8, 1 << 20, kind=int)
        _check_range("warmup_steps", self.warmup_steps, 0, kind=int)
        _check_range("min_lr_ratio", self.min_lr_ratio, 0.0, 1.0)
        _check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_range("max_grad_norm", self.max_grad_norm, 0.0)
        _check_range("save_every", self.save_every, 0, kind=int)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.optimizer not in ("adamw", "adamw8bit"):
            raise ConfigError(f"optimizer must be adamw or adamw8bit, got {self.optimizer!r}")
        return self

    def updated(self, **overrides) -> "TrainSettings":
        """A copy with the given (non-None) fields replaced, validated."""
        return dataclasses.replace(
            self, **{k: v for k, v in overrides.items() if v is not None}).validate()


@dataclass
class ExpertManifest:
    """experts/NAME.yaml: one domain expert and how to fine-tune it."""
    name: str
    domain: str
    description: str = ""
    recipe: str = ""
    positive_prompts: list[str] = field(default_factory=list)
    negative_prompts: list[str] = field(default_factory=list)
    trainable: str = "mlp"         # mlp | full
    finetune: TrainSettings = field(default_factory=TrainSettings)
    path: Path | None = None

    def validate(self) -> "ExpertManifest":
        if not self.name or not isinstance(self.name, str):
            raise ConfigError("expert manifest needs a name")
        if self.trainable not in ("mlp", "full"):
            raise ConfigError(f"expert {self.name}: trainable must be mlp or full, got {self.trainable!r}")
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
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None


def load_manifest(path: str | os.PathLike) -> ExpertManifest:
    path = Path(path)
    data = _read_yaml(path)
    ft = _build(TrainSettings, data.pop("finetune", None) or {}, f"{path} finetune")
    data.setdefault("recipe", data.get("domain", ""))
    manifest = _build(ExpertManifest, {**data, "finetune": ft, "path": path}, str(path))
    return manifest.validate()


def experts_dir() -> Path:
    return Path(os.environ.get("SMOLMOE_EXPERTS", repo_root() / "experts"))


def list_manifests(directory: str | os.PathLike | None = None) -> list[ExpertManifest]:
    directory = Path(directory) if directory else experts_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no expert manifests (*.yaml) in {directory}")
    return [load_manifest(f) for f in files]


def find_manifest(name: str, directory: str | os.PathLike | None = None) -> ExpertManifest:
    manifests = list_manifests(directory)
    for m in manifests:
        if m.name.lower() == name.lower():
            return m
    known = ", ".join(m.name for m in manifests)
    raise ConfigError(f"unknown expert '{name}' (known: {known})")


ROUTER_INITS = ("random", "hidden", "fit")


@dataclass
class MergeConfig:
    """What `smolmoe assemble` builds: which experts, how many per token, how routers start."""
    experts: list[str]             # expert names (under experts_root) or model directories
    output: str = ""
    base: str | None = None        # non-FFN weights come from here with non_ffn=base
    top_k: int = 2
    router_init: str = "fit"       # random | hidden | fit
    non_ffn: str = "base"          # base | average | the name of one of the experts
    experts_root: str | None = None
    data: str | None = None        # data dir for router_init=fit
    fit_samples: int = 16          # training conversations per domain for the fit init
    seed: int = 0
    base_expert: bool | str = False  # the base's own FFN: True/"routed" = one more expert
                                     # ("general"), "shared" = Qwen2-MoE's shared expert

    def validate(self) -> "MergeConfig":
        if not isinstance(self.experts, list) or len(self.experts) < 2:
            raise ConfigError("a merge needs at least two experts")
        if len(set(self.experts)) != len(self.experts):
            raise ConfigError("the same expert is listed twice")
        _check_range("top_k", self.top_k, 1, kind=int)
        if self.top_k > len(self.experts):
            raise ConfigError(f"top_k={self.top_k} is more than the {len(self.experts)} experts")
        if self.router_init not in ROUTER_INITS:
            raise ConfigError(f"router_init must be one of {', '.join(ROUTER_INITS)}, got {self.router_init!r}")
        if self.non_ffn not in ("base", "average") and self.non_ffn not in self.expert_names():
            raise ConfigError(f"non_ffn must be base, average or one of the experts "
                              f"({', '.join(self.expert_names())}), got {self.non_ffn!r}")
        _check_range("fit_samples", self.fit_samples, 1, kind=int)
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
    return _build(MergeConfig, data, str(path)).validate()
