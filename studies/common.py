"""What the benches (bench/) and the studies (studies/) share.

Run every bench and study as a module from the repository root, e.g.
`python -m bench.bench --parts prefill` or `python -m studies.grow_study --home DIR`: the root is
then on sys.path, so `bench`, `studies` and `tests` import as packages and no script changes
sys.path.
"""
from __future__ import annotations

import socket
import time
from pathlib import Path

import click

from smolmoe.core.errors import ModelError
from smolmoe.core.io import read_json, write_json
from smolmoe.pipelines.moe import MoEPipelineSettings

ROOT = Path(__file__).resolve().parent.parent   # the repository root

# The demo's router budget (its pipeline's defaults), so an MoE a study builds matches the demo's.
DEMO_ROUTER = MoEPipelineSettings().router_training()

# The options every study that builds MoEs from experts takes.
data_option = click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False), help="Directory made by `smolmoe data build`.")
work_option = click.option("--work", required=True, type=click.Path(file_okay=False), help="MoEs and per-stage results go here (a rerun resumes).")
base_option = click.option("--base", default=None, help="The experts' base (default: the packaged SmolLM2-135M-Instruct).")


def cached(path: Path, compute):
    """compute()'s result kept in `path`: a rerun reads it instead of computing it again."""
    if path.is_file():
        return read_json(path, ModelError)
    value = compute()
    write_json(path, value)
    return value


def timed(fn, *args, **kw):
    """fn(*args, **kw) and the seconds it took (one call, rounded to 0.1 s)."""
    t0 = time.perf_counter()
    value = fn(*args, **kw)
    return value, round(time.perf_counter() - t0, 1)


def free_port() -> int:
    """A free TCP port on the loopback interface, for a server started next."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table's lines: the header, its rule, then one line per row."""
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]
