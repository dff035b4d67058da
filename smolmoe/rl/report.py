"""The RL run's report: the reward curve and held-out accuracy, as JSON and as a PNG plot.

The plot needs matplotlib (extra `plot`); without it the JSON is still written and the
returned paths say the PNG was skipped.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from ..core.io import atomic_write_bytes, write_json


def curves(info: dict) -> dict:
    """Per step: mean training reward and accuracy of the rollouts; held-out accuracy at step 0
    (the starting model), at each evaluation during training, and at the end."""
    history = info.get("history", [])
    held_out = [{"step": 0, **_point(info["test_before"])}]
    held_out += [{"step": h["step"], **_point({k[4:]: v for k, v in h.items() if k.startswith("val_")})}
                 for h in history if "val_accuracy" in h]
    if held_out[-1]["step"] != info["steps"]:
        held_out.append({"step": info["steps"], **_point(info["test_after"])})
    return {"train": [{"step": h["step"], "reward": h["reward"], "accuracy": h["accuracy"],
                       "seconds": round(h["seconds"], 1)} for h in history],
            "held_out": held_out}


def _point(acc: dict) -> dict:
    return {"accuracy": acc["accuracy"], "format": acc["format"], "n": acc["n"],
            "interval": acc.get("interval")}


def write_report(info: dict, path: str | os.PathLike) -> dict[str, str]:
    """Write PATH (JSON: the run's summary and its curves) and PATH with .png; return both."""
    path = Path(path)
    report = {k: v for k, v in info.items() if k != "history"} | {"curves": curves(info)}
    write_json(path, report)
    written = {"json": str(path)}
    png = path.with_suffix(".png")
    try:
        plot(report["curves"], png, title=f"{info['stage']} on {Path(info['source']).name}")
        written["png"] = str(png)
    except ImportError:
        written["png"] = "skipped (pip install matplotlib, or smolmoe[plot])"
    return written


def plot(c: dict, png: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")                      # files only: no display on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [p["step"] for p in c["train"]]
    ax.plot(steps, [p["reward"] for p in c["train"]], color="tab:blue", alpha=0.6,
            label="training reward (rollout mean)")
    held = c["held_out"]
    xs, ys = [p["step"] for p in held], [p["accuracy"] for p in held]
    low = [p["accuracy"] - p["interval"][0] if p["interval"] else 0 for p in held]
    high = [p["interval"][1] - p["accuracy"] if p["interval"] else 0 for p in held]
    ax.errorbar(xs, ys, yerr=[low, high], color="tab:red", marker="o", capsize=3,
                label=f"held-out exact accuracy (n={held[0]['n']}, 95% Wilson)")
    ax.set_xlabel("optimizer step")
    ax.set_ylim(0, max(1.0, max(p["reward"] for p in c["train"]) if c["train"] else 1.0))
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(png, buffer.getvalue())
