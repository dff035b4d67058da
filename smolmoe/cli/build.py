"""`smolmoe data`, `train-expert`, `assemble`, `adopt`, `train-router`: building the MoE step by
step (parse, call the library, print)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from ..core.config import ROUTER_TRAINING, MergeConfig, RouterSettings, TrainSettings, router_training
from .kit import (CONTEXT, SettingsCommand, SettingsGroup, Whole, home_argument, home_default,
                     one_line_errors, quiet_transformers, settings_options)


# ---------------------------------------------------------------- data
@click.group(cls=SettingsGroup, context_settings=CONTEXT)
def data():
    """Build and check the per-domain datasets."""


SOURCES_OPTION = dict(default=None, envvar="SMOLMOE_SOURCES", show_envvar=True,
                      type=click.Path(file_okay=False),
                      help="Folder holding pinned archives (their exact file names), read before "
                           "the cache and the registry.")


@data.command("build", context_settings=CONTEXT)
@click.option("--out", "out_dir", **home_default("data"), type=click.Path(file_okay=False), help="Output directory.")
@click.option("--domain", "domains", multiple=True, help="Only these domains (repeatable).")
@click.option("--seed", default=0, type=Whole(), help="Seed of the split and the sampling.")
@settings_options("smolmoe.data.recipes:BuildSizes", ("max_train", "max_eval"))
@click.option("--sources", "sources_dir", **SOURCES_OPTION)
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@one_line_errors
def data_build(out_dir, domains, seed, max_train, max_eval, sources_dir, overwrite):
    """Fetch offline sources and write train/val/test JSONL for each domain.

    A source whose package cannot be had is left out (said loudly, recorded in meta.json); a
    domain left with too few sources is not written, and the command exits 1 after writing
    the others."""
    from ..data import recipes
    from .progress import out, task_progress
    from .tables import build_problems, data_table
    names = list(domains) or list(recipes.DOMAINS)
    with task_progress(recipes.build_steps(names), "building data") as advance:
        report = recipes.build(out_dir, domains=names, seed=seed, overwrite=overwrite,
                                    max_train=max_train, max_eval=max_eval, sources_dir=sources_dir,
                                    on_progress=lambda d, stage: advance(d) if stage == "done" else None)
    out.print(data_table(report))
    for line in build_problems(report.missing, report.failed, report.warnings):
        click.secho(line, err=True, fg="red", bold=True)
    click.echo(f"wrote {out_dir}")
    if report.failed:
        click.secho(f"error: {len(report.failed)} domain(s) not built: {', '.join(report.failed)}",
                    err=True, fg="red", bold=True)
        raise SystemExit(1)


@data.command("sources", context_settings=CONTEXT)
@click.option("--check", is_flag=True, help="Ask the registry whether each pinned version is still "
              "served (small archives are downloaded to a temp folder and their sha256 compared); "
              "exit 1 naming each one that is gone.")
@click.option("--sources", "sources_dir", **SOURCES_OPTION)
@one_line_errors
def data_sources(check, sources_dir):
    """List every pinned source archive: version, registry, sha256, size, licence, the domains
    and sources that read it, and whether it is cached."""
    from ..data.recipes.inventory import check_served, registry_answers, sources_report
    from .progress import console, out
    from .tables import sources_table
    report = sources_report(sources_dir=sources_dir)
    out.print(sources_table(report))
    click.echo(f"cache: {report['cache']}" + (f"; local folder: {report['local']}"
                                              if report["local"] else ""))
    problems = list(report["problems"])
    if check:
        with console.status("asking the registry..."):
            if not registry_answers():
                click.echo("error: no package index answers (pip index versions pip failed): "
                           "cannot check", err=True)
                raise SystemExit(2)
            results = check_served()
        problems += [r["problem"] for r in results if not r["ok"]]
        served = sum(r["ok"] for r in results)
        click.echo(f"{served}/{len(results)} pinned archives are still served")
    for line in problems:
        click.secho(f"error: {line}", err=True, fg="red", bold=True)
    if problems:
        raise SystemExit(1)


@data.command("check", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@one_line_errors
def data_check(files):
    """Validate JSONL files (chat or instruction format) and count records."""
    from ..data.records import load_records
    for f in files:
        click.echo(f"{f}: {len(load_records(f))} records ok")


# ---------------------------------------------------------------- experts
@click.command("train-expert", cls=SettingsCommand, context_settings=CONTEXT)
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Train every expert in experts/.")
@click.option("--base", default=None, help="Base model (default: packaged SmolLM2-135M-Instruct).")
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Directory made by `smolmoe data build`.")
@click.option("--out", "out_root", **home_default("experts"), type=click.Path(), help="Experts are written to OUT/NAME.")
@click.option("--full", is_flag=True, help="Train every parameter, not only the MLPs (breaks exact merging).")
@click.option("--multitask", is_flag=True, help="Instead: one dense baseline on every expert's domain, with the experts' records and steps together (written to $SMOLMOE_HOME/baselines/multitask, or OUT/multitask).")
@settings_options(TrainSettings, ("steps", "lr", "batch_size", "seq_len", "save_every",
                                   "precision", "optimizer"), override="the manifest's")
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace existing expert directories.")
@one_line_errors
def train_expert_cmd(names, all_, base, data_dir, out_root, full, multitask, resume, overwrite,
                     **train):
    """Fine-tune domain experts from the base model (MLP-only by default); --multitask: one
    dense model on all their domains with their budget together."""
    from ..core.base import resolve_base
    from ..core.config import select_manifests
    from ..training.experts import train_expert
    from .progress import step_progress
    from ..core.distributed import process_state
    quiet_transformers()
    main_process = process_state().is_main_process  # several under accelerate launch
    if multitask:
        given = [k for k, v in train.items() if v is not None]
        if given:
            from ..core.errors import SmolMoEError
            raise SmolMoEError(f"--multitask trains with the experts' own settings (their budget "
                               f"together); drop --{given[0].replace('_', '-')}")
        return train_multitask_cmd(names, all_ or not names, resolve_base(base), Path(data_dir),
                                   out_root, full, resume, overwrite, main_process)
    manifests = select_manifests(names, all_)
    base_dir = resolve_base(base)
    for m in manifests:
        settings = m.finetune.updated(**train)
        with step_progress(settings.steps, f"expert {m.name}") as on_step:
            summary = train_expert(m, base=base_dir, data_dir=Path(data_dir),
                                   out_dir=Path(out_root) / m.name, settings=settings,
                                   trainable="full" if full else None, resume=resume,
                                   overwrite=overwrite, on_step=on_step if main_process else None)
        if main_process:
            click.echo(f"{m.name}: loss {summary['final_loss']:.4f}, {summary['tokens_per_second']} "
                       f"tok/s, {summary['seconds']} s -> {Path(out_root) / m.name}")


def train_multitask_cmd(names, all_, base_dir, data_dir, out_root, full, resume, overwrite,
                        main_process):
    from ..core.config import home_path, select_manifests
    from ..training.experts import MULTITASK, multitask_settings, train_multitask
    from .progress import step_progress
    manifests = select_manifests(names, all_)
    given = click.get_current_context().get_parameter_source("out_root")
    root = Path(out_root) if given == click.core.ParameterSource.COMMANDLINE else home_path("baselines")
    with step_progress(multitask_settings(manifests).steps, MULTITASK) as on_step:
        s = train_multitask(manifests, base=base_dir, data_dir=data_dir, out_dir=root / MULTITASK,
                            trainable="full" if full else "mlp", resume=resume, overwrite=overwrite,
                            on_step=on_step if main_process else None)
    if main_process:
        click.echo(f"{MULTITASK} ({len(manifests)} domains): loss {s['final_loss']:.4f}, "
                   f"{s['tokens']} tokens, {s['seconds']} s -> {root / MULTITASK}")


# ---------------------------------------------------------------- merge core
@click.command(cls=SettingsCommand, context_settings=CONTEXT)
@click.argument("experts", nargs=-1)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Merge config YAML (base, experts, top_k, router_init, non_ffn, output).")
@click.option("--experts-root", **home_default("experts"), type=click.Path(), help="Where expert names are looked up.")
@click.option("--all", "all_", is_flag=True, help="Every expert in experts/*.yaml, in manifest order.")
@click.option("--base", default=None, help="Non-FFN weights from here (default: the first expert).")
@settings_options(MergeConfig, ("top_k", "router_init", "non_ffn"), override="{}",
                  metavars={"non_ffn": "base|average|NAME"})
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Data for router_init=fit.")
@settings_options(MergeConfig, ("fit_samples",), override="{}")
@click.option("--out", "output", default=None, type=click.Path(file_okay=False), help="Output MoE directory [default: $SMOLMOE_HOME/moe].")
@click.option("--base-expert", is_flag=True, default=None, help="Add the base model's own FFN as one more expert, 'general', for requests outside every domain (--base, default: the packaged SmolLM2).")
@click.option("--shared-base-expert", is_flag=True, help="Put the base's FFN in Qwen2-MoE's always-on shared expert instead of a routed one (qwen2 experts; docs/byo.md).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@one_line_errors
def assemble(experts, config_file, experts_root, all_, base, top_k, router_init, non_ffn, data_dir,
             fit_samples, output, base_expert, shared_base_expert, overwrite):
    """Merge dense experts into one MoE (routers initialised, parity checked)."""
    from ..moe.assemble import assemble as assemble_moe, resolve_merge_config
    from ..moe.meta import MoeMeta
    from .progress import console
    quiet_transformers()
    base_expert = "shared" if shared_base_expert else base_expert
    merge, manifests = resolve_merge_config(
        experts, config_file=config_file, all_experts=all_, base=base, top_k=top_k,
        router_init=router_init, non_ffn=non_ffn, data=data_dir, fit_samples=fit_samples,
        output=output, base_expert=base_expert)
    with console.status("assembling...") as status:
        meta = assemble_moe(merge, experts_root=Path(merge.experts_root or experts_root),
                            overwrite=overwrite, manifests=manifests,
                            on_progress=lambda msg: status.update(msg))
    click.echo(f"experts (in order): {', '.join(MoeMeta.from_doc(meta).names)}")
    click.echo(f"non-FFN weights from {meta['non_ffn']} ({meta['non_ffn_source']}); each expert's "
               f"own non-FFN weights differ from them by:")
    for name, d in meta["non_ffn_distance"].items():
        click.echo(f"  {name:14} max |diff| {d['max_abs']:.3g}, relative L2 {d['relative_l2']:.3g}")
    for name, diff in meta["parity_max_abs_logit_diff"].items():
        click.echo(f"parity {name:14} max |logit diff| {diff:.2e}")
    from ..moe.assemble import parity_warning
    warning = parity_warning(meta)
    if warning:
        click.secho(warning, err=True, fg="red", bold=True)
    acc = meta["router_init_report"].get("train_accuracy_per_layer")
    if acc:
        click.echo("fit accuracy per layer: " + " ".join(f"{a:.2f}" for a in acc))
    click.echo(f"wrote {merge.output}")


@click.command(cls=SettingsCommand, context_settings=CONTEXT)
@click.argument("moe_dir", type=click.Path())
@click.option("--names", required=True, help="Comma-separated expert names, in the MoE's expert order.")
@click.option("--domains", default=None, help="Comma-separated data domain each expert serves (default: its name).")
@click.option("--force", is_flag=True, help="Replace the names and domains of an MoE that already has smolmoe.json.")
@one_line_errors
def adopt(moe_dir, names, domains, force):
    """Name the experts of an MoE made elsewhere (e.g. mergekit-moe): writes smolmoe.json.

    Without it every command still works, with experts called expert_0, expert_1, ...
    """
    from ..moe.meta import adopt as adopt_moe

    split = lambda text: [x.strip() for x in text.split(",")] if text else None  # noqa: E731
    meta = adopt_moe(Path(moe_dir), split(names), split(domains), force=force)
    click.echo("experts: " + ", ".join(f"{n} ({d})" for n, d in zip(meta.names, meta.domains)))


@click.command("train-router", cls=SettingsCommand, context_settings=CONTEXT)
@home_argument("moe_dir", "moe")
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Directory made by `smolmoe data build`.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False), help="Write here instead of updating MOE_DIR in place.")
@settings_options(TrainSettings, ("steps", "lr", "batch_size", "seq_len"), defaults=ROUTER_TRAINING)
@settings_options(RouterSettings, ("alpha", "beta", "heal", "per_domain"))
@settings_options(TrainSettings, ("precision", "grad_checkpointing", "save_every", "seed"),
                  defaults=ROUTER_TRAINING)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out directory.")
@one_line_errors
def train_router_cmd(moe_dir, data_dir, out_dir, resume, overwrite, alpha, beta, heal, per_domain,
                     **train):
    """Train only the routers: assistant-token LM loss + alpha * load-balancing loss
    (+ beta * routing cross-entropy against each example's domain expert).
    MOE_DIR defaults to $SMOLMOE_HOME/moe."""
    from .progress import step_progress
    from ..moe.router import train_router
    from ..core.distributed import process_state
    quiet_transformers()
    settings = router_training(**train)
    router = RouterSettings(alpha=alpha, beta=beta, heal=heal, per_domain=per_domain).validate()
    main_process = process_state().is_main_process
    with step_progress(settings.steps, "routers", keys=("loss", "balance", "route_ce", "max_load")) as on_step:
        s = train_router(Path(moe_dir), Path(data_dir), settings, **dataclasses.asdict(router),
                         out_dir=Path(out_dir) if out_dir else None, resume=resume,
                         overwrite=overwrite, on_step=on_step if main_process else None)
    if not main_process:
        return
    healed = s["trainable_params"] - s["router_params"]
    click.echo(f"trainable parameters: {s['trainable_params']:,} (routers {s['router_params']:,}"
               + (f", healing {heal} {healed:,})" if healed else " only)"))
    f = s["final"]
    click.echo(f"final LM loss {f['loss']:.4f}, balance {f['balance']:.4f}, "
               f"{s['tokens_per_second']} tok/s -> {out_dir or moe_dir}")



