"""Two CPU processes (gloo) train like one: `accelerate launch --multi_gpu --num_processes 2`."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from smolmoe.core.config import MergeConfig
from smolmoe.moe.assemble import assemble
from smolmoe.moe.meta import read_moe_meta as read_meta

from helpers.tiny_models import DOMAINS
from helpers.scratch_fixtures import bilingual_texts

pytestmark = pytest.mark.skipif(shutil.which("accelerate") is None, reason="accelerate CLI not on PATH")


def _train(args, cwd, env):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _one_and_two(args, global_batch, port, cwd, env):
    """Run the CLI command once in one process and once under two (each half the batch)."""
    _train([sys.executable, "-m", "smolmoe.cli", *args, "--batch-size", str(global_batch),
            "--out", str(cwd / "one")], cwd, env)
    _train(["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", str(port),
            "-m", "smolmoe.cli", *args, "--batch-size", str(global_batch // 2), "--out", str(cwd / "two")],
           cwd, env)


def test_two_processes_match_one(tiny_dir, tiny_data, experts_dir, tmp_path):
    env = {**os.environ, "SMOLMOE_EXPERTS": str(experts_dir), "OMP_NUM_THREADS": "1"}
    common = ["train-expert", "math", "--base", str(tiny_dir), "--data", str(tiny_data)]
    # Each of the two processes takes half of the global batch of 4.
    _one_and_two(common, 4, 29517, tmp_path, env)
    one = json.loads((tmp_path / "one" / "math" / "smolmoe_expert.json").read_text())
    two = json.loads((tmp_path / "two" / "math" / "smolmoe_expert.json").read_text())
    assert one["tokens"] == two["tokens"]  # the same examples were seen
    # Per-process means of token-weighted losses differ slightly from one global mean.
    assert abs(one["final_loss"] - two["final_loss"]) / one["final_loss"] < 0.02
    print(f"train-expert final loss: one process {one['final_loss']:.5f}, two {two['final_loss']:.5f}")


def test_train_router_two_processes_match_one(trained, tmp_path):
    moe = tmp_path / "moe"
    assemble(MergeConfig(experts=list(DOMAINS), output=str(moe), base=str(trained / "base"),
                         router_init="random"), experts_root=trained / "experts")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["train-router", str(moe), "--data", str(trained / "data"), "--steps", "6",
              "--lr", "0.05", "--seq-len", "64", "--per-domain", "24", "--alpha", "0.01"]
    _one_and_two(common, 8, 29518, tmp_path, env)
    one = read_meta(tmp_path / "one").doc["router_training"]
    two = read_meta(tmp_path / "two").doc["router_training"]
    assert one["trainable_params"] == two["trainable_params"] == 2 * 2 * 32
    # The two processes split each global batch of 8; their gradients are averaged, so the
    # routers follow the same path and end at nearly the same loss.
    assert abs(one["final"]["loss"] - two["final"]["loss"]) / one["final"]["loss"] < 0.02
    print(f"train-router final loss: one process {one['final']['loss']:.5f}, two {two['final']['loss']:.5f}")


# Run under `accelerate launch`: every save of a model directory is logged with its process's
# rank, then a scratch stage runs as each process of the job.
SCRATCH_JOB = """
import json, sys
import smolmoe.core.modeldir as modeldir
from smolmoe.core.config import TrainSettings
from smolmoe.scratch.pretrain import pretrain
from smolmoe.core.distributed import process_state

model_dir, texts_file, out_dir, log = sys.argv[1:]
writing = modeldir.atomic_dir
def logged(target, **kw):
    with open(log, "a") as f:
        f.write(f"{process_state().process_index} {target}\\n")
    return writing(target, **kw)
modeldir.atomic_dir = logged
texts = json.loads(open(texts_file).read())
pretrain(model_dir, texts["train"], texts["val"], out_dir,
         TrainSettings(steps=2, lr=1e-2, batch_size=2, seq_len=32, warmup_steps=0))
"""


def test_scratch_stage_under_two_processes_writes_its_output_once(scratch_root, tmp_path):
    job, texts, log = tmp_path / "job.py", tmp_path / "texts.json", tmp_path / "writes.log"
    job.write_text(SCRATCH_JOB)
    texts.write_text(json.dumps({"train": bilingual_texts(40, 0), "val": bilingual_texts(20, 1)}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    _train(["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--main_process_port",
            "29519", str(job), str(scratch_root / "model"), str(texts), str(tmp_path / "pre"),
            str(log)], tmp_path, env)
    assert log.read_text().splitlines() == [f"0 {tmp_path / 'pre'}"]   # once, by the main process
    meta = json.loads((tmp_path / "pre" / "smolmoe_scratch.json").read_text())
    assert meta["stage"] == "pretrain" and meta["steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.py", "pre", "texts.json", "writes.log"]
