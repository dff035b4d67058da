"""The alternatives to the MoE a user would try first, built from the same experts and data:
dense merges (merge_dense.py: average, TIES, DARE) and one dense multitask fine-tune
(experts.train_multitask), and how the MoE compares with them.

They live in `baselines/` beside `moe/` ($SMOLMOE_HOME/baselines/NAME), where `smolmoe eval
--moe` finds them: `merge-average`, `merge-ties`, `merge-dare`, `multitask`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..core.config import GENERAL_DOMAIN
from ..core.errors import ModelError
from ..training.experts import MULTITASK
from .loss import mean_loss

MERGE_PREFIX = "merge-"
# The goal of issue #24 on the foreign split: the MoE beats each baseline on the mixed loss and
# on at least this share of the domains, and is within ORACLE_FACTOR of the oracle elsewhere.
WIN_SHARE = 0.75
ORACLE_FACTOR = 1.05


def find_baselines(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, Path]:
    """label -> directory for each model directory under root (none when root is missing);
    merges first, in method order, then the rest by name."""
    from .merge_dense import METHODS
    root = Path(root)
    if not root.is_dir():
        return {}
    found = {p.name: p for p in sorted(root.iterdir())
             if p.is_dir() and not p.name.startswith(".") and (p / "config.json").is_file()}
    taken = set(exclude) & set(found)
    if taken:
        raise ModelError(f"baselines in {root} may not be called {', '.join(sorted(taken))} "
                         f"(the report's other rows use these names): rename them")
    order = [f"{MERGE_PREFIX}{m}" for m in METHODS]
    return dict(sorted(found.items(), key=lambda kv: (kv[0] not in order,
                                                       order.index(kv[0]) if kv[0] in order else 0,
                                                       kv[0])))


def baselines_root(moe_dir: Path) -> Path:
    """Where an MoE's baselines live by default: baselines/ beside it."""
    return Path(moe_dir).parent / "baselines"


def build_merges(experts: list[Path], root: Path, base: Path, *, methods=None,
                 on_progress: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Every dense merge of the experts under root/merge-METHOD (replaced: seconds each)."""
    from .merge_dense import METHODS, merge_dense
    return {f"{MERGE_PREFIX}{m}": merge_dense(experts, m, Path(root) / f"{MERGE_PREFIX}{m}",
                                              base=base, overwrite=True, on_progress=on_progress)
            for m in (methods or METHODS)}


def goal_domains(report: dict) -> list[str]:
    """The domains a comparison counts: every expert domain scored (not the everyday split)."""
    moe = report["results"]["moe"]
    return [d for d in dict.fromkeys(report["domains"]) if d in moe and d != GENERAL_DOMAIN]


def compare(report: dict) -> dict:
    """The MoE against each baseline row of a loss report (moe_evaluate with baselines), and
    the goal: it beats the best merge and the multitask model on the mixed loss and on
    >= WIN_SHARE of the domains, and is within ORACLE_FACTOR of the oracle where it does not."""
    res = report["results"]
    domains = goal_domains(report)
    pick = lambda per: {d: per[d] for d in domains if d in per}  # noqa: E731
    moe_mixed = mean_loss(pick(res["moe"]))
    rows = {}
    for label in report.get("baselines", []):
        per = res[label]
        wins = [d for d in domains if res["moe"][d]["loss"] < per[d]["loss"]]
        misses = [d for d in domains if d not in wins]
        ratio = {d: res["moe"][d]["loss"] / res["oracle"][d]["loss"] for d in misses}
        mixed = mean_loss(pick(per))
        rows[label] = {"mixed": mixed, "moe_mixed": moe_mixed, "beats_mixed": moe_mixed < mixed,
                       "wins": len(wins), "of": len(domains), "misses": misses,
                       "misses_over_oracle": ratio,
                       "over_oracle": {d: per[d]["loss"] / res["oracle"][d]["loss"] for d in domains}}
    merges = [lab for lab in rows if lab.startswith(MERGE_PREFIX)]
    best_merge = min(merges, key=lambda lab: rows[lab]["mixed"]) if merges else None
    against = [lab for lab in (best_merge, MULTITASK) if lab in rows]

    def met(row):
        return (row["beats_mixed"] and row["wins"] >= WIN_SHARE * row["of"]
                and all(v <= ORACLE_FACTOR for v in row["misses_over_oracle"].values()))
    return {"rows": rows, "best_merge": best_merge, "against": against,
            "goal_met": bool(against) and all(met(rows[lab]) for lab in against),
            "goal": f"MoE beats the best merge and the multitask model on the mixed loss and on "
                    f">= {WIN_SHARE:.0%} of the domains, within {ORACLE_FACTOR}x the oracle elsewhere"}


def compare_lines(comparison: dict) -> list[str]:
    """One line per baseline and one for the goal (the CLI and the demo print these)."""
    lines = []
    for label, r in comparison["rows"].items():
        off = [f"{d} {v:.3f}x" for d, v in r["misses_over_oracle"].items()]
        lines.append(f"MoE vs {label}: mixed {r['moe_mixed']:.3f} vs {r['mixed']:.3f}, better on "
                     f"{r['wins']}/{r['of']} domains"
                     + (f"; where not, MoE/oracle: {', '.join(off)}" if off else ""))
    if comparison["against"]:
        lines.append(f"goal ({comparison['goal']}): "
                     + ("met" if comparison["goal_met"] else "NOT met")
                     + f" (against {', '.join(comparison['against'])})")
    return lines
