"""`smolmoe eval`: per-domain losses, the MoE report and task metrics (parse, call, print)."""
from __future__ import annotations

from pathlib import Path

import click

from ..core.config import home_path
from ..core.errors import SmolMoEError
from .kit import CONTEXT, dtype_option, home_default, one_line_errors, quiet_transformers, Whole


# `eval --moe` given without a directory: the MoE under $SMOLMOE_HOME.
MOE_FLAG = "$SMOLMOE_HOME/moe"


@click.command("eval", context_settings=CONTEXT)
@click.argument("model_dirs", nargs=-1, type=click.Path())
@click.option("--data", "data_dir", **home_default("data"), type=click.Path(), help="Directory made by `smolmoe data build`.")
@click.option("--domain", "domains", multiple=True, help="Only these domains (default: all in the data dir).")
@click.option("--split", default="test", type=click.Choice(["train", "val", "test", "foreign"]),
              help="foreign: the held-out source of each domain (never trained on).")
@click.option("--limit", default=100, type=Whole(1), help="Records per domain.")
@click.option("--max-len", default=384, type=Whole(8), help="Longest conversation in tokens (longer ones are cut).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--moe", "moe_dir", type=click.Path(), is_flag=False, flag_value=MOE_FLAG, metavar="[DIR]",
              help="Evaluate this MoE against the base, its experts and the oracle (no DIR: $SMOLMOE_HOME/moe).")
@click.option("--base", default=None, help="Base model for --moe (default: the packaged SmolLM2).")
@click.option("--tasks", is_flag=True, help="Also generate greedy answers and score them per domain (docs/eval.md).")
@click.option("--tasks-limit", default=16, type=Whole(1), help="Prompts per domain for --tasks (guardian: this many harmful and benign each).")
@click.option("--refusal-limit", default=40, type=Whole(1), help="With --moe --tasks: prompts per refusal set (harmful, benign-risky, everyday) for the base, the guardian and the MoE.")
@click.option("--tasks-batch", default=16, type=Whole(1), help="Prompts generated together for --tasks.")
@click.option("--baseline", "baseline_dirs", multiple=True, type=click.Path(), help="With --moe: a dense model to compare (repeatable) [default: every model dir in baselines/ beside the MoE: merges, multitask].")
@click.option("--cost/--no-cost", default=True, help="With --moe: parameters, active parameters, prefill and decode tokens/s and training minutes of the base, the MoE and the baselines.")
@dtype_option("auto")
@one_line_errors
def eval_cmd(model_dirs, data_dir, domains, split, limit, max_len, json_out, moe_dir, base, tasks,
             tasks_limit, refusal_limit, tasks_batch, baseline_dirs, cost, dtype):
    """Per-domain assistant-token loss of model directories (or --moe: the full MoE report);
    --tasks adds task scores and refusal rates from generated answers."""
    from ..data.records import data_domains
    from ..evaluation.loss import check_scored, evaluate, moe_evaluate
    from ..core.io import write_json
    from .progress import out, task_progress
    from .tables import loss_table, moe_eval_tables
    quiet_transformers()
    if json_out:   # before any work: the report must not land on or in what is evaluated
        from ..core.io import check_output_not_input
        check_output_not_input(json_out, [*model_dirs, moe_dir if moe_dir != MOE_FLAG else
                                          home_path("moe"), data_dir], "--json")
    task_args = dict(split=split, limit=tasks_limit, batch_size=tasks_batch, dtype=dtype)
    if moe_dir:
        from ..core.base import resolve_base
        moe_dir = home_path("moe") if moe_dir == MOE_FLAG else moe_dir
        from ..moe.meta import read_moe_meta
        from ..evaluation.baselines import baselines_root, compare_lines, compare, find_baselines
        from ..moe.model_card import record_evaluation
        from ..core.modeldir import MOE_META
        n = read_moe_meta(Path(moe_dir)).count
        base_dir = resolve_base(base)
        baselines = ({Path(d).name: Path(d) for d in baseline_dirs} if baseline_dirs else
                     find_baselines(baselines_root(Path(moe_dir))))
        with task_progress((n + 2 + len(baselines)) * n, "evaluating") as advance:
            report = moe_evaluate(Path(moe_dir), Path(data_dir), base=base_dir, split=split,
                                  limit=limit, max_len=max_len, baselines=baselines,
                                  on_progress=advance)
        check_scored(report)
        for table in moe_eval_tables(report):
            out.print(table)
        if baselines:
            for line in compare_lines(compare(report)):
                click.echo(line)
        if cost:
            from ..evaluation.cost import model_costs
            from .tables import cost_table
            rows = {"base": base_dir, **baselines, "moe": Path(moe_dir)}
            with task_progress(len(rows), "cost") as advance:
                report["cost"] = model_costs(rows, on_progress=advance)
            out.print(cost_table(report["cost"]))
        if tasks:
            from ..evaluation.tasks.run import moe_evaluate_tasks, moe_task_steps
            with task_progress(moe_task_steps(n, Path(data_dir), len(baselines)), "tasks") as advance:
                report["tasks"] = moe_evaluate_tasks(Path(moe_dir), Path(data_dir), base=base_dir,
                                                     refusal_limit=refusal_limit,
                                                     baselines=baselines,
                                                     on_progress=advance, **task_args)
            print_tasks(report["tasks"])
        if (Path(moe_dir) / MOE_META).is_file():   # assembled or adopted here: it has a card
            click.echo(f"model card: {record_evaluation(Path(moe_dir), report)}")
        if json_out:
            write_json(json_out, report)
            click.echo(f"wrote {json_out}")
        return
    if not model_dirs:
        raise SmolMoEError("give at least one model directory (or --moe DIR)")
    names = list(domains) or data_domains(Path(data_dir))
    models = {Path(d).name: Path(d) for d in model_dirs}
    with task_progress(len(models) * len(names), "evaluating") as advance:
        report = evaluate(models, Path(data_dir), names, split=split, limit=limit,
                          max_len=max_len, on_progress=advance)
    check_scored(report)
    out.print(loss_table(report, names))
    if tasks:
        from ..evaluation.tasks.run import evaluate_tasks, task_steps
        with task_progress(task_steps(len(models), Path(data_dir), names), "tasks") as advance:
            report["tasks"] = evaluate_tasks(models, Path(data_dir), names, on_progress=advance,
                                             **task_args)
        print_tasks(report["tasks"])
    if json_out:
        write_json(json_out, report)
        click.echo(f"wrote {json_out}")




def print_tasks(report: dict) -> None:
    from .progress import out
    from .tables import refusal_table, task_table
    out.print(task_table(report))
    out.print(refusal_table(report))
    s = report["settings"]
    click.echo(f"tasks: {s['prompts']} prompts generated in {s['generation_seconds']} s "
               f"({s['prompts_per_second']:.2f} prompts/s)")


