"""What every smolmoe command shares: help settings, one-line errors, quiet transformers."""
from __future__ import annotations

import functools
import os
import sys

import click

from .errors import SmolMoEError

CONTEXT = {"show_default": True, "help_option_names": ["-h", "--help"]}


def one_line_errors(fn):
    """Turn the library's errors (and OS errors on user paths) into one line and exit 1."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SmolMoEError as e:
            click.echo(f"error: {e}", err=True)
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
