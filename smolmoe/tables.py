"""Rich tables built from the library's report dicts (printing stays at the CLI edge)."""
from __future__ import annotations

from rich.table import Table

from .evaluate import mean_loss


def data_table(report: dict) -> Table:
    table = Table(title="datasets")
    for col in ("domain", "train", "val", "test", "note"):
        table.add_column(col, justify="left" if col in ("domain", "note") else "right")
    for domain, r in report.items():
        table.add_row(domain, str(r["train"]), str(r["val"]), str(r["test"]), r.get("note") or "")
    return table


def loss_table(report: dict, domains: list[str]) -> Table:
    """Models as rows, domains as columns; the best loss in each column in bold."""
    results = report["results"]
    table = Table(title=f"assistant-token loss ({report['settings']['split']} split)")
    table.add_column("model")
    for d in domains:
        table.add_column(d, justify="right")
    table.add_column("mean", justify="right")
    best = {d: min((r[d]["loss"] for r in results.values() if d in r), default=None) for d in domains}
    for name, per_domain in results.items():
        cells = []
        for d in domains:
            if d not in per_domain:
                cells.append("")
                continue
            v = per_domain[d]["loss"]
            cells.append(f"[bold]{v:.3f}[/bold]" if v == best[d] else f"{v:.3f}")
        table.add_row(name, *cells, f"{mean_loss(per_domain):.3f}")
    return table


def expert_vs_base_table(report: dict, experts: dict[str, str], base: str = "base") -> Table:
    """One row per expert: the base's and the expert's loss on the expert's own domain."""
    results = report["results"]
    table = Table(title="each expert on its own domain (test loss)")
    for col in ("expert", "domain", "base", "expert loss", "change", "better"):
        table.add_column(col, justify="left" if col in ("expert", "domain") else "right")
    for name, domain in experts.items():
        b, e = results[base][domain]["loss"], results[name][domain]["loss"]
        table.add_row(name, domain, f"{b:.3f}", f"{e:.3f}", f"{(e - b) / b:+.1%}",
                      "[green]yes[/green]" if e < b else "[red]no[/red]")
    return table
