"""The model card of an MoE directory: README.md with YAML front matter in the Hugging Face
model-card form (as mergekit writes one), always rewritten whole and atomically.

It is rendered from what the directory and its inputs record: smolmoe.json (experts, routing
configuration, router training), each expert's smolmoe_expert.json (its training file, hence
the data dir whose meta.json files give every source's package, licence and benchmark flag),
and the measurements eval kept (MEASURED, beside the card: losses against the oracle, the
merges and the multitask model, task scores and refusal rates). `assemble` writes the card,
`train-router` rewrites it (the measurements do not survive new routers: the directory is
replaced), `eval --moe` records what it measured and rewrites it.
"""
from __future__ import annotations

import math
from pathlib import Path

import yaml

from ..core.config import GENERAL_DOMAIN
from ..core.io import atomic_write_text, read_json, write_json
from ..core.modeldir import BASE_META, EXPERT_META, MOE_META

CARD = "README.md"
MEASURED = "smolmoe_measured.json"
LOSS_ROWS = ("base", "oracle", "moe")


def _json(path: Path) -> dict:
    try:
        data = read_json(path) if Path(path).is_file() else {}
    except Exception:   # a card is written from what can be read; a bad file is left out
        return {}
    return data if isinstance(data, dict) else {}


# ------------------------------------------------------------------ what the inputs record
def expert_sources(expert: dict) -> dict:
    """An expert's training file and its domain's data sources (meta.json beside the split)."""
    if not expert.get("source"):   # an adopted MoE: no expert directories known
        return {"expert_meta": {}, "data_dir": None, "sources": [], "foreign_source": None}
    source = Path(expert["source"])
    emeta = _json(source / EXPERT_META)
    train_file = emeta.get("train_file")
    domain_dir = Path(train_file).parent if train_file else None
    if expert.get("domain") == GENERAL_DOMAIN and (source / BASE_META).is_file():
        emeta = {"base_model": True}
    data = _json(domain_dir / "meta.json") if domain_dir else {}
    return {"expert_meta": emeta, "data_dir": str(domain_dir.parent) if domain_dir else None,
            "sources": data.get("sources", []), "foreign_source": data.get("foreign_source")}


def everyday_sources(data_dir: str | None) -> list[dict]:
    return _json(Path(data_dir) / GENERAL_DOMAIN / "meta.json").get("sources", []) if data_dir else []


def base_model_id(meta: dict, experts: list[dict]) -> str:
    """The base's hub id when it is the packaged SmolLM2, else its directory name."""
    base = next((e["expert_meta"].get("base") for e in experts if e["expert_meta"].get("base")),
                None) or meta.get("non_ffn_source")
    if base and (Path(base) / BASE_META).is_file():
        return "HuggingFaceTB/SmolLM2-135M-Instruct"
    return Path(base).name if base else "unknown"


# ------------------------------------------------------------------ measurements
def _losses(report: dict) -> dict:
    """A loss report cut to what the card shows: per row and domain, the loss and tokens."""
    rows = [*LOSS_ROWS, *report.get("baselines", [])]
    return {"split": report["settings"]["split"], "limit": report["settings"].get("limit"),
            "baselines": list(report.get("baselines", [])),
            "domains": [d for d in report["domains"] if d in report["results"]["moe"]],
            "results": {r: {d: {"loss": v["loss"], "tokens": v["tokens"]}
                            for d, v in report["results"][r].items()}
                        for r in rows if r in report["results"]},
            "routing_accuracy": report.get("routing_accuracy")}


def record_evaluation(moe_dir: Path, report: dict) -> Path:
    """Keep what an `eval --moe` report measured (its split, its "foreign" part, its "tasks")
    beside the card, over earlier measurements of the same split; rewrite the card."""
    moe_dir = Path(moe_dir)
    measured = _json(moe_dir / MEASURED)
    for part in (report, report.get("foreign")):
        if part and "results" in part:
            measured[part["settings"]["split"]] = _losses(part)
    tasks = report.get("tasks")
    if tasks:
        measured["tasks"] = {"split": tasks["settings"]["split"], "refusals": tasks["refusals"],
                             "baselines": tasks.get("baselines", []),
                             "results": {m: {d: {k: r.get(k) for k in ("metric", "n", "score")}
                                             for d, r in per.items()}
                                         for m, per in tasks["results"].items()
                                         if m in (*LOSS_ROWS, *tasks.get("baselines", []))}}
    if report.get("cost"):
        measured["cost"] = report["cost"]
    write_json(moe_dir / MEASURED, measured)
    return write_card(moe_dir)


# ------------------------------------------------------------------ rendering
def _mixed(per: dict, domains: list[str]) -> float:
    tokens = sum(per[d]["tokens"] for d in domains if d in per)
    if not tokens or any(d not in per for d in domains):
        return math.nan
    return sum(per[d]["loss"] * per[d]["tokens"] for d in domains) / tokens


def front_matter(moe_dir: Path, meta: dict, experts: list[dict], measured: dict) -> dict:
    licences = sorted({s.get("licence", "?") for e in experts for s in e["sources"]})
    model_type = _json(Path(moe_dir) / "config.json").get("model_type", "mixtral")
    matter = {"license": "other", "license_name": "smolmoe-mixed",
              "base_model": base_model_id(meta, experts), "base_model_relation": "merge",
              "library_name": "transformers", "pipeline_tag": "text-generation",
              "language": ["en"], "tags": ["smolmoe", "moe", "mixture-of-experts", "merge",
                                           str(model_type)],
              "datasets": sorted({s["name"] for e in experts for s in e["sources"]
                                  if s.get("role") == "train"}),
              "data_licences": licences}
    results = []
    for split in ("test", "foreign"):
        m = measured.get(split)
        if not m:
            continue
        domains = [d for d in m["domains"] if d != GENERAL_DOMAIN]
        metrics = [{"type": "loss", "name": f"mixed assistant-token loss ({row})",
                    "value": round(_mixed(m["results"][row], domains), 4)}
                   for row in (*LOSS_ROWS, *m["baselines"]) if row in m["results"]]
        results.append({"task": {"type": "text-generation"},
                        "dataset": {"name": f"smolmoe {split} split ({len(domains)} domains, "
                                            f"{m['limit']} records each)", "type": "smolmoe",
                                    "split": split},
                        "metrics": metrics})
    if results:
        matter["model-index"] = [{"name": Path(moe_dir).name, "results": results}]
    return matter


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _rate(v) -> str:
    return "-" if v is None else f"{v:.0%}"


def render(moe_dir: Path) -> str:
    """The card's text from what moe_dir and its inputs record."""
    moe_dir = Path(moe_dir)
    meta = _json(moe_dir / MOE_META)
    experts = [{**e, **expert_sources(e)} for e in meta.get("experts", [])]
    measured = _json(moe_dir / MEASURED)
    matter = front_matter(moe_dir, meta, experts, measured)
    k, n = meta.get("top_k"), len(experts)
    lines = ["---", yaml.safe_dump(matter, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {moe_dir.name}", "",
             f"A Mixture-of-Experts language model assembled by smolmoe from {n} dense experts "
             f"(top-{k} of {n} per token), each an MLP-only fine-tune of {matter['base_model']}. "
             f"It loads with stock `transformers` (`AutoModelForCausalLM`), no remote code.", "",
             "## Experts", ""]
    rows = []
    for e in experts:
        em = e["expert_meta"]
        trained = ("the base model's own FFN (not fine-tuned)" if em.get("base_model") else
                   f"{em.get('trainable', '?')}, {em.get('tokens', '?')} tokens, "
                   f"{em.get('seconds', '?')} s" if em else "no smolmoe metadata")
        train = [s for s in e["sources"] if s.get("role") == "train"]
        rows.append([e["name"], e["domain"], trained,
                     ", ".join(s["name"] for s in train) or "-",
                     "; ".join(sorted({s.get("licence", "?") for s in train})) or "-"])
    lines += _table(["expert", "domain", "training", "trained on (sources)", "licences"], rows)
    lines += ["", "## Data sources", "",
              "Every source of every domain, from the data directory's meta.json files. "
              "`benchmark: yes` marks a public benchmark the experts were trained on: do not "
              "evaluate this model on it.", ""]
    rows = [[e["domain"], s["name"], s.get("package", "?"), s.get("licence", "?"),
             s.get("role", "?"), "yes" if s.get("benchmark") else "no"]
            for e in experts for s in e["sources"]]
    data_dir = next((e["data_dir"] for e in experts if e["data_dir"]), None)
    rows += [[GENERAL_DOMAIN, s["name"], s.get("package", "?"), s.get("licence", "?"),
              s.get("role", "?"), "yes" if s.get("benchmark") else "no"]
             for s in everyday_sources(data_dir) if GENERAL_DOMAIN not in {e["domain"] for e in experts}]
    lines += _table(["domain", "source", "package", "licence", "role", "benchmark"], rows) if rows \
        else ["(not recorded: the experts' metadata names no data directory with meta.json)"]
    lines += ["", "## Routing", ""] + _routing(meta)
    lines += ["", "## Evaluation: retention against the oracle, the merges and the multitask model", ""]
    lines += _evaluation(measured)
    lines += ["", "## Intended use", "",
              "Research and teaching: a small, CPU-sized demonstration of routing between "
              "domain experts (inspect which expert handles each token with `smolmoe inspect`, "
              "`smolmoe chat`, `smolmoe serve`). It is a 135M-class model: it is not reliable for "
              "facts, code or advice, and it is not a safety filter.", "",
              "## Limits, as measured", ""]
    lines += _limits(measured, experts)
    return "\n".join(lines) + "\n"


def _routing(meta: dict) -> list[str]:
    rt = meta.get("router_training") or {}
    s = rt.get("settings") or {}
    init = meta.get("router_init_report") or {}
    acc = init.get("train_accuracy_per_layer")
    out = [f"- experts per token (top-k): {meta.get('top_k')} of {len(meta.get('experts', []))}",
           f"- router initialisation: {meta.get('router_init')}"
           + (f" (fit accuracy per layer: mean {sum(acc) / len(acc):.2f})" if acc else ""),
           f"- attention, norms and embeddings: {meta.get('non_ffn', 'base')} "
           f"({meta.get('non_ffn_source', '?')})"]
    if any(e.get("domain") == GENERAL_DOMAIN for e in meta.get("experts", [])):
        out.append(f"- the base model's own FFN is an expert ('{GENERAL_DOMAIN}' requests)")
    if rt:
        out.append(f"- router training: {s.get('steps')} steps, lr {s.get('lr')}, batch "
                   f"{s.get('batch_size')}, LM loss + {rt.get('alpha')} x load balancing"
                   + (f" + {rt.get('beta')} x routing CE" if rt.get("beta") else "")
                   + f"; {rt.get('trainable_params', '?'):,} trainable parameters, "
                     f"{rt.get('seconds')} s")
    else:
        out.append("- routers not trained yet (`smolmoe train-router`)")
    return out


def _evaluation(measured: dict) -> list[str]:
    out = []
    for split in ("test", "foreign"):
        m = measured.get(split)
        if not m:
            continue
        res = m["results"]
        rows_shown = [r for r in ("base", "moe", *m["baselines"]) if r in res]
        domains = [d for d in m["domains"] if "oracle" in res and d in res["oracle"]]
        out += [f"Assistant-token loss on the {split} split ({m['limit']} records per domain) "
                f"divided by the oracle's (each domain scored by its own expert; 1.000 = the "
                f"oracle, lower is better):", ""]
        rows = [[r, *[f"{res[r][d]['loss'] / res['oracle'][d]['loss']:.3f}" if d in res[r] else ""
                      for d in domains]] for r in rows_shown]
        out += _table(["model", *domains], rows)
        goal_domains = [d for d in domains if d != GENERAL_DOMAIN]
        mixed = {r: _mixed(res[r], goal_domains) for r in ("oracle", *rows_shown)}
        out += ["", "Mixed loss (token-weighted over the domains): "
                + ", ".join(f"{r} {v:.3f}" for r, v in mixed.items() if not math.isnan(v))
                + (f"; routing accuracy {m['routing_accuracy']:.1%}" if m.get("routing_accuracy")
                   is not None else "") + ".", ""]
        if not m["baselines"]:
            out += ["Merges and the multitask model: not measured on this split "
                    "(`smolmoe merge-dense`, `smolmoe train-expert --multitask`, then "
                    "`smolmoe eval --moe`).", ""]
    if not out:
        out = ["Not measured since the routers last changed (`smolmoe eval --moe`).", ""]
    tasks = measured.get("tasks")
    if tasks:
        res = tasks["results"]
        models = [m for m in ("base", *tasks["baselines"], "oracle", "moe") if m in res]
        domains = list(dict.fromkeys(d for m in models for d in res[m]))
        out += [f"Task scores on generated answers ({tasks['split']} split; docs/eval.md):", ""]
        rows = [[d, next(res[m][d]["metric"] for m in models if d in res[m]),
                 *["" if d not in res[m] or res[m][d]["score"] is None else f"{res[m][d]['score']:.2f}"
                   for m in models]] for d in domains]
        out += _table(["domain", "metric", *models], rows) + [""]
    cost = measured.get("cost")
    if cost:
        out += ["Cost (float32 on the CPU that measured it):", ""]
        out += _table(["model", "parameters", "active / token", "prefill tok/s", "decode tok/s",
                       "training min"],
                      [[m, f"{c['parameters']:,}", f"{c['active_parameters']:,}",
                        c.get("prefill_tok_s", "-"), c.get("decode_tok_s", "-"),
                        "-" if c.get("training_minutes") is None else c["training_minutes"]]
                       for m, c in cost.items()]) + [""]
    return out


def _limits(measured: dict, experts: list[dict]) -> list[str]:
    out = []
    refusals = (measured.get("tasks") or {}).get("refusals")
    if refusals:
        out += ["Refusal rates (want: harmful high, the rest low):", ""]
        out += _table(["model", "harmful", "benign-risky", "everyday", "other domains"],
                      [[m, *[_rate(r.get(k)) + (f" (n={r[f'{k}_n']})" if r.get(f"{k}_n") else "")
                             for k in ("harmful", "benign_risky", "everyday")],
                        _rate(r.get("other_domains"))] for m, r in refusals.items()]) + [""]
    else:
        out += ["Refusal rates: not measured yet (`smolmoe eval --moe --tasks`).", ""]
    foreign = [f"{e['domain']}: {e['foreign_source']}" for e in experts if e.get("foreign_source")]
    out += ["Never trained on:", "",
            "- any language but English, and anything longer than the experts' 256-token "
            "training rows;",
            f"- requests outside every domain ('{GENERAL_DOMAIN}'): no expert was fine-tuned on "
            f"them" + (", the base's own FFN serves them" if any(
                e["domain"] == GENERAL_DOMAIN for e in experts) else "") + ";"]
    if foreign:
        out.append("- each domain's held-out source (the foreign split, used only to measure): "
                   + "; ".join(foreign) + ".")
    return out


def write_card(moe_dir: Path) -> Path:
    """Render and write moe_dir/README.md atomically; return its path."""
    return atomic_write_text(Path(moe_dir) / CARD, render(moe_dir))
