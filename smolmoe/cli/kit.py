"""What every smolmoe command shares: help settings, one-line errors, quiet transformers,
default paths under $SMOLMOE_HOME, a float type that refuses nan/inf, and options generated
from settings classes (settings.py)."""
from __future__ import annotations

import functools
import importlib
import logging
import math
import os
import sys

import click

from ..core.config import HOME_LAYOUT, LLAMA_CPP_PYTHON, home_path
from ..core.errors import SmolMoEError
from ..core.precision import DTYPES
from ..core.settings import INT64, default_of, field_type, specs

CONTEXT = {"show_default": True, "help_option_names": ["-h", "--help"]}

# Optional modules -> the pip command that brings them (any other: `pip install NAME`).
OPTIONAL = {
    "fastapi": "pip install 'fastapi>=0.110' 'uvicorn>=0.29'   (the serve extra)",
    "uvicorn": "pip install 'fastapi>=0.110' 'uvicorn>=0.29'   (the serve extra)",
    "starlette": "pip install 'fastapi>=0.110' 'uvicorn>=0.29'   (the serve extra)",
    "peft": "pip install 'peft>=0.10'   (the scratch extra)",
    "llama_cpp": f"pip install llama-cpp-python=={LLAMA_CPP_PYTHON}",
    "bitsandbytes": "pip install bitsandbytes",
}


def home_default(kind: str) -> dict:
    """click option settings for a path that defaults to $SMOLMOE_HOME/KIND (read at run time,
    so SMOLMOE_HOME set after import still counts)."""
    return {"default": lambda: str(home_path(kind)),
            "show_default": f"$SMOLMOE_HOME/{HOME_LAYOUT[kind]}"}


def home_argument(name: str, kind: str):
    """An optional path argument that defaults to $SMOLMOE_HOME/KIND (say so in the docstring:
    click shows no defaults for arguments)."""
    return click.argument(name, default=lambda: str(home_path(kind)), required=False,
                          type=click.Path())


class Finite(click.FloatRange):
    """A FloatRange that also refuses nan and inf (nan passes every range comparison)."""
    name = "float range"   # the metavar users know; the message says "finite"

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number.", param, ctx)
        return value


class Whole(click.IntRange):
    """An IntRange whose unset sides are the 64-bit limits (settings.INT64), which help omits."""
    name = "integer"

    def __init__(self, min=None, max=None, **kw):
        super().__init__(INT64[0] if min is None else min, INT64[1] if max is None else max, **kw)

    def convert(self, value, param, ctx):
        number = click.INT.convert(value, param, ctx)
        if not INT64[0] <= number <= INT64[1]:
            self.fail(f"{number} does not fit in 64 bits.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        lo = self.min if self.min != INT64[0] else None
        hi = self.max if self.max != INT64[1] else None
        if lo is None and hi is None:
            return ""
        return click.IntRange(lo, hi, self.min_open, self.max_open)._describe_range()


class SettingOption(click.Option):
    """An option generated from a field of a settings class (tests compare the two)."""

    def __init__(self, decls, *, settings_cls, field, **kwargs):
        super().__init__(decls, **kwargs)
        self.settings_cls, self.field = settings_cls, field


def _setting_option(cls, name: str, *, default, flag: str | None, help: str | None,
                    show_default, metavar: str | None) -> click.Option:
    spec, kind = specs(cls)[name], field_type(cls, name)
    decls = [flag or "--" + name.replace("_", "-"), name]
    kw: dict = {"help": help or spec.help, "default": default, "show_default": show_default,
                "metavar": metavar}
    lo = spec.ge if spec.ge is not None else spec.gt
    hi = spec.le if spec.le is not None else spec.lt
    ranged = {"min": lo, "max": hi, "min_open": spec.gt is not None, "max_open": spec.lt is not None}
    if kind.choices:
        kw["type"] = click.Choice([str(c) for c in kind.choices])
    elif kind.many:
        kw.update(multiple=True, default=tuple(default or ()), type=kind.base)
    elif kind.base is bool:
        if kind.optional or default:   # None must stay reachable: --think/--no-think
            decls[0] = f"{decls[0]}/--no-{decls[0][2:]}"
        else:
            kw["is_flag"] = True
    elif kind.base is int:
        kw["type"] = Whole(**ranged)
    elif kind.base is float:
        kw["type"] = Finite(**ranged)
    return SettingOption(decls, settings_cls=cls, field=name, **kw)


def settings_options(source, names, *, defaults=None, override: str | None = None,
                     flags: dict | None = None, help: dict | None = None,
                     metavars: dict | None = None):
    """Add one option per named field of a settings class: its type, bounds, choices and help
    come from the field's declaration (settings.py), so none of them is written here.

    source: the class, or "module:Class" for a class beside stage code that imports torch:
    those options are built when their command runs or shows help (SettingsCommand), so
    `smolmoe --help` stays fast (0.3 s against 3.9 s measured with torch on a loaded CPU).
    defaults: an instance (or a dict of some fields) holding this command's own defaults (a
    stage's), else the class's.
    override: options default to None ("keep the value from elsewhere": a manifest, a config
    file) and the help shows `override` as the default, "{}" standing for the class's.
    flags / help / metavars: per field, this command's option name / help text / metavar.
    """
    flags, help, metavars = flags or {}, help or {}, metavars or {}

    def build() -> list[click.Option]:
        cls = source
        if isinstance(source, str):
            module, _, attr = source.partition(":")
            cls = getattr(importlib.import_module(module), attr)
        made = []
        for name in names:
            if override is not None:
                default, shown = None, override.format(default_of(cls, name))
            else:
                default = (defaults.get(name, default_of(cls, name)) if isinstance(defaults, dict)
                           else getattr(defaults, name) if defaults is not None
                           else default_of(cls, name))
                shown = True
            made.append(_setting_option(cls, name, default=default, flag=flags.get(name),
                                        help=help.get(name), show_default=shown,
                                        metavar=metavars.get(name)))
        return made

    def decorate(fn):
        if isinstance(source, str):
            fn.__dict__.setdefault("lazy_options", []).insert(0, build)   # decorators run bottom-up
            return fn
        for option in reversed(build()):
            fn.__dict__.setdefault("__click_params__", []).append(option)
        return fn
    return decorate


class SettingsCommand(click.Command):
    """A command whose settings options from a torch-importing module are built on first use."""

    def get_params(self, ctx):
        for build in self.callback.__dict__.pop("lazy_options", []) if self.callback else []:
            self.params.extend(build())
        return super().get_params(ctx)


class SettingsGroup(click.Group):
    """A group whose commands (and subgroups) may carry lazily built settings options."""
    command_class = SettingsCommand
    group_class = type


def missing_dependency_line(e: ModuleNotFoundError) -> str:
    top = (e.name or "").split(".")[0]
    if not top:
        return f"error: {e}"
    return f"error: {top} is not installed: {OPTIONAL.get(top, f'pip install {top}')}"


class _NoticeHandler(logging.Handler):
    """The library's notices (logger "smolmoe", e.g. stale temp dirs removed) as one stderr line."""

    def emit(self, record):
        click.echo(f"note: {record.getMessage()}", err=True)


def show_notices() -> None:
    logger = logging.getLogger("smolmoe")
    if not any(isinstance(h, _NoticeHandler) for h in logger.handlers):
        logger.addHandler(_NoticeHandler())   # found first, so logging's own fallback stays quiet


def one_line_errors(fn):
    """Turn the library's errors (and OS errors on user paths) into one line and exit 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        show_notices()
        try:
            return fn(*args, **kwargs)
        except SmolMoEError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except ModuleNotFoundError as e:  # an optional dependency (serve, scratch, llama.cpp)
            click.echo(missing_dependency_line(e), err=True)
            sys.exit(1)
        except OSError as e:
            where = f" {e.filename}" if getattr(e, "filename", None) else ""
            click.echo(f"error:{where} {e.strerror or e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
    return wrapper


def quiet_transformers():
    """transformers' own tqdm bars and warnings would drown our progress output."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


class OneLineGroup(SettingsGroup):
    """Usage errors (bad option values, missing arguments) as one line too, exit code 2."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.format_message())
            sys.exit(0)
        except click.ClickException as e:
            click.echo(f"error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except SmolMoEError as e:   # from a default computed before the command ran ($SMOLMOE_HOME)
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)


def dtype_option(default: str):
    """The number format generation runs in (precision.generation_dtype)."""
    return click.option("--dtype", default=default, show_default=True, type=click.Choice(DTYPES),
                        help="Weights for generation: bf16 halves the bytes each token reads "
                             "(CPUs with AMX/AVX512-BF16, bf16 GPUs), int8 (CPU) halves them "
                             "again; auto: bf16 where supported.")


def lora_option(fn):
    """--lora-r, for every stage that can train a LoRA adapter (training.lora.LoraSettings.of_rank)."""
    return click.option("--lora-r", type=Whole(1), default=None,
                        help="Train a LoRA adapter of this rank (saved in OUT/adapter, merged into OUT).")(fn)
