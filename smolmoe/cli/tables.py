"""Rich tables built from the library's report dicts (printing stays at the CLI edge)."""
from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ..evaluation.loss import mean_loss


def data_table(report: dict) -> Table:
    """One row per domain: split sizes, each train source with its share, the foreign source;
    a source that could not be read is listed as MISSING."""
    table = Table(title="datasets", show_lines=True)
    show_note = any(r.get("note") for r in report.values())
    cols = ("domain", "train", "val", "test", "foreign", "train sources (share)", "foreign source")
    for col in cols + (("note",) if show_note else ()):
        number = col in ("train", "val", "test", "foreign")
        # Counts and domain names never wrap; long source paths fold, so the table fits 80 columns.
        table.add_column(col, justify="right" if number else "left",
                         no_wrap=number or col == "domain", overflow="fold")
    for domain, r in report.items():
        missing = r.get("missing") or []
        shares = "\n".join([f"{v:3.0%} {s}" for s, v in sorted(
            (r.get("shares") or {}).items(), key=lambda kv: (-kv[1], kv[0]))]
            + [f"[bold red]MISSING {escape(m['source'])}[/bold red]"
               for m in missing if m.get("role") != "foreign"])
        foreign = r.get("foreign_source") or "\n".join(
            f"[bold red]MISSING {escape(m['source'])}[/bold red]"
            for m in missing if m.get("role") == "foreign")
        row = [domain, str(r["train"]), str(r["val"]), str(r["test"]), str(r.get("foreign", 0)),
               shares, foreign]
        table.add_row(*row, *([r.get("note") or ""] if show_note else []))
    return table


def build_problems(missing: dict, failed: dict, warnings=()) -> list[str]:
    """The lines a data build must show loudly (a smolmoe.data.recipes.BuildReport's `missing`,
    `failed` and `warnings`, or the same keys of manifest.json)."""
    lines = [f"MISSING source {m['source']} of {domain} ({m['role']}): {m['why']}"
             for domain, ms in missing.items() for m in ms]
    lines += [f"warning: {w}" for w in warnings]
    return lines + [f"FAILED {line}" for line in failed.values()]


def sources_table(report: dict) -> Table:
    """`smolmoe data sources`: one row per pinned archive (smolmoe.data.recipes.inventory)."""
    table = Table(title="pinned source archives", show_lines=True)
    for col, ratio in (("package\nversion, registry", None), ("sha256", None), ("size", None),
                       ("licence", 1), ("used by (domain: sources)", 2), ("cached", None)):
        table.add_column(col, justify="right" if col == "size" else "left", ratio=ratio,
                         no_wrap=ratio is None, overflow="fold")
    rows = [(f"{r['package']}\n{r['version']}, {r['registry']}", r["sha256"][:10], _mb(r["size"]),
             r["licence"], r["users"], r["cached"]) for r in report["rows"]]
    rows += [(p, "-", "-", "-", users, "built in") for p, users in report["builtin"].items() if users]
    rows += [(p, "?", "?", "?", users, "NOT PINNED") for p, users in report["unpinned"].items()]
    for package, sha, size, licence, users, cached in rows:
        by_domain: dict[str, list[str]] = {}
        for domain, source in users:
            by_domain.setdefault(domain, []).append(source)
        used = "\n".join(f"{d}: {', '.join(map(escape, s))}" for d, s in by_domain.items()) \
            or "[dim]unused[/dim]"
        where = {"local": "yes\n(--sources)", "cache": "yes", None: "[yellow]no[/yellow]",
                 "NOT PINNED": "[bold red]NOT\nPINNED[/bold red]"}.get(cached, cached)
        table.add_row(package, sha, size, escape(licence), used, where)
    return table


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


def loss_table(report: dict, domains: list[str]) -> Table:
    """Models as rows, domains as columns; the best loss in each column in bold."""
    results = report["results"]
    table = Table(title=f"assistant-token loss ({report['settings']['split']} split)")
    table.add_column("model")
    for d in domains:
        table.add_column(d, justify="right")
    table.add_column("mean (mixed)", justify="right")
    best = {d: min((r[d]["loss"] for r in results.values() if d in r), default=None) for d in domains}
    for name, per_domain in results.items():
        cells = []
        for d in domains:
            if d not in per_domain:
                cells.append("")
                continue
            v = per_domain[d]["loss"]
            cells.append(f"[bold]{v:.3f}[/bold]" if v == best[d] else f"{v:.3f}")
        # A model scored on some domains only (an expert on its own) has no mixed loss.
        mixed = f"{mean_loss(per_domain):.3f}" if all(d in per_domain for d in domains) else ""
        table.add_row(name, *cells, mixed)
    return table


def expert_vs_base_table(report: dict, experts: dict[str, str], base: str = "base") -> Table:
    """One row per expert: the base's and the expert's loss on the expert's own domain (where
    the domain has this split: one whose foreign source was missing has no foreign split)."""
    results = report["results"]
    table = Table(title=f"each expert on its own domain ({report['settings']['split']} loss)")
    for col in ("expert", "domain", "base", "expert loss", "change", "better"):
        table.add_column(col, justify="left" if col in ("expert", "domain") else "right")
    for name, domain in experts.items():
        if domain not in results[base]:
            table.add_row(name, domain, "", "", "", "[dim]no split[/dim]")
            continue
        b, e = results[base][domain]["loss"], results[name][domain]["loss"]
        table.add_row(name, domain, f"{b:.3f}", f"{e:.3f}", f"{(e - b) / b:+.1%}",
                      "[green]yes[/green]" if e < b else "[red]no[/red]")
    return table


def routing_layer_table(view: dict, title: str) -> Table:
    """The SmolMoE design's per-layer view: layer | top experts by name | their share."""
    table = Table(title=title)
    table.add_column("layer", justify="right")
    table.add_column("top experts")
    table.add_column("share", justify="right")
    for row in view["layers"]:
        table.add_row(str(row["layer"]), ", ".join(n for n, _ in row["top"]),
                      ", ".join(f"{s:.0%}" for _, s in row["top"]))
    return table


def usage_table(usage: dict, title: str = "overall expert usage") -> Table:
    table = Table(title=title)
    table.add_column("expert")
    table.add_column("share", justify="right")
    table.add_column("")
    for name, share in sorted(usage.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{share:.1%}", "█" * round(share * 40))
    return table


def token_line(view: dict, experts: list[str] | None = None) -> str:
    """Rich markup: each token followed by its top-1 expert, e.g. `'def'[coder] ' sort'[coder]`,
    the name in the expert's colour when `experts` (the MoE's names, in order) is given. The
    token and the brackets are escaped: rich would otherwise take `[coder]` for a style tag."""
    from ..core.palette import expert_colour
    parts = []
    for tok, name in view["tokens"]:
        label = escape(f"[{name}]")
        first = name.split("/")[0]
        if experts and first in experts:
            label = f"[{expert_colour(experts.index(first))}]{label}[/]"
        parts.append(f"{escape(repr(tok))}{label}")
    return " ".join(parts)


def moe_eval_tables(report: dict) -> list[Table]:
    """Loss table (base, experts, oracle, MoE), routing matrix and load share."""
    names, results = report["experts"], report["results"]
    # Domains without this split (the general one has no foreign part) are left out.
    domains = [d for d in report["domains"] if d in results["moe"]]
    losses = loss_table(report, domains)  # its "mean" column is the mixed test set's loss
    ratio = Table(title="MoE / oracle loss")
    for d in domains:
        ratio.add_column(d, justify="right")
    ratio.add_row(*[f"{results['moe'][d]['loss'] / results['oracle'][d]['loss']:.3f}" for d in domains])
    matrix = Table(title=f"routing matrix: share of top-1 choices on assistant tokens "
                         f"(accuracy {report['routing_accuracy']:.1%})")
    matrix.add_column("domain \\ expert")
    for n in names:
        matrix.add_column(n, justify="right")
    for d in domains:
        matrix.add_row(d, *[f"{v:.0%}" for v in report["routing_matrix"][d]])
    tables = [losses, ratio]
    if report.get("baselines"):
        tables.append(retention_table(report))
    return tables + [matrix, usage_table(dict(zip(names, report["load_share"])),
                                         "load share (top-k choices, all tokens)")]


def retention_table(report: dict) -> Table:
    """The MoE and each baseline (merges, multitask) as loss / oracle loss per domain (1.000:
    the oracle; lower is better), the mixed loss, and on how many domains the MoE beats it."""
    from ..evaluation.baselines import compare, goal_domains
    comparison = compare(report)
    res, domains = report["results"], goal_domains(report)
    table = Table(title=f"loss / oracle loss, MoE and baselines ({report['settings']['split']} "
                        f"split; lower is better)")
    for col in ("model", *domains, "mixed loss", "MoE better on"):
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=col == "model")
    mixed_moe = next(iter(comparison["rows"].values()))["moe_mixed"]
    table.add_row("moe", *[f"{res['moe'][d]['loss'] / res['oracle'][d]['loss']:.3f}" for d in domains],
                  f"{mixed_moe:.3f}", "")
    for label, r in comparison["rows"].items():
        table.add_row(label, *[f"{r['over_oracle'][d]:.3f}" for d in domains], f"{r['mixed']:.3f}",
                      f"{r['wins']}/{r['of']}")
    return table


def cost_table(costs: dict[str, dict]) -> Table:
    """One row per model: parameters, active per token, prefill and decode tokens/s, training."""
    threads = {c.get("threads") for c in costs.values()}
    table = Table(title=f"cost (float32, {'/'.join(str(t) for t in sorted(threads))} thread(s) "
                        f"on this CPU)")
    for col in ("model", "parameters", "active / token", "prefill tok/s", "decode tok/s",
                "training min"):
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=col == "model")
    fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
    for label, c in costs.items():
        table.add_row(label, fmt(c["parameters"], ","), fmt(c["active_parameters"], ","),
                      fmt(c.get("prefill_tok_s"), ".0f"), fmt(c.get("decode_tok_s"), ".1f"),
                      fmt(c.get("training_minutes"), ".1f"))
    return table


def _rate(v) -> str:
    return "" if v is None else f"{v:.0%}"


def task_table(report: dict) -> Table:
    """Domains as rows (with the metric and the prompts scored), models as columns, the best
    score in each row in bold. For an MoE report the columns are base, oracle (each domain's
    own expert) and MoE, and a last column MoE score / oracle score."""
    results = report["results"]
    is_moe = "moe_over_oracle" in report
    models = [m for m in (("base", *report.get("baselines", []), "oracle", "moe") if is_moe
                          else results) if m in results]
    domains = list(dict.fromkeys([*report.get("domains", []),
                                  *(d for per in results.values() for d in per)]))
    table = Table(title=f"task scores ({report['settings']['split']} split; "
                        f"{report['settings']['prompts_per_second']:.2f} prompts/s)")
    if is_moe:
        table.caption = "oracle: each domain scored by its own expert; rules in docs/eval.md"
    for col in ("domain", "metric", "n", *models, *(["MoE / oracle"] if is_moe else [])):
        table.add_column(col, justify="left" if col in ("domain", "metric") else "right")
    for d in domains:
        first = next(results[m][d] for m in models if d in results[m])
        scores = {m: results[m][d]["score"] for m in models if d in results[m]}
        best = max((v for v in scores.values() if v is not None), default=None)
        cells = ["" if scores.get(m) is None else
                 (f"[bold]{scores[m]:.2f}[/bold]" if scores[m] == best else f"{scores[m]:.2f}")
                 for m in models]
        if is_moe:
            ratio = report["moe_over_oracle"].get(d)
            cells.append("" if ratio is None else f"{ratio:.2f}")
        table.add_row(d, first["metric"], str(first["n"]), *cells)
    return table


def refusal_table(report: dict) -> Table:
    """Refusal rates per model: harmful and benign-risky guardian prompts, everyday requests,
    the other domains' prompts (blank where the model was not run on them)."""
    table = Table(title="refusal rates, n and 95% interval (want: harmful high, the rest low)")
    for col in ("model", "harmful", "benign risky", "everyday", "other domains"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, r in report["refusals"].items():
        table.add_row(name, *[_rate_with_interval(r, k) for k in ("harmful", "benign_risky",
                                                                  "everyday")],
                      _rate(r["other_domains"]))
    return table


def _rate_with_interval(r: dict, key: str) -> str:
    """"45% (n=40, 30-61%)"; the bare rate for reports written before intervals were kept."""
    if r.get(key) is None or r.get(f"{key}_interval") is None:
        return _rate(r.get(key))
    lo, hi = r[f"{key}_interval"]
    return f"{_rate(r[key])} (n={r[f'{key}_n']}, {lo:.0%}-{hi:.0%})"
