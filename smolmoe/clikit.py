"""What every smolmoe command shares: help settings, one-line errors, quiet transformers,
default paths under $SMOLMOE_HOME and a float type that refuses nan/inf."""
from __future__ import annotations

import functools
import logging
import math
import os
import sys

import click

from .config import HOME_LAYOUT, home_path
from .errors import SmolMoEError

CONTEXT = {"show_default": True, "help_option_names": ["-h", "--help"]}

# Optional modules -> the pip command that brings them (any other: `pip install NAME`).
OPTIONAL = {
    "fastapi": "pip install 'fastapi>=0.110' 'uvicorn>=0.29'   (the serve extra)",
    "uvicorn": "pip install 'fastapi>=0.110' 'uvicorn>=0.29'   (the serve extra)",
    "starlette": "pip install 'fastapi>=0.110' 'uvicorn>=0.29'   (the serve extra)",
    "peft": "pip install 'peft>=0.10'   (the scratch extra)",
    "llama_cpp": "pip install llama-cpp-python==0.3.36",
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


class OneLineGroup(click.Group):
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
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
