"""SIGKILL a training process at a random step, resume, and get bit-identical weights."""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import torch
from safetensors.torch import load_file

SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from smolmoe.core.config import ExpertManifest, TrainSettings
    from smolmoe.training.experts import train_expert
    base, data, out, resume, delay = sys.argv[1:6]
    def on_step(record):
        print(record["step"], flush=True)
        time.sleep(float(delay))
    train_expert(ExpertManifest(name="math", domain="math"), base=Path(base), data_dir=Path(data),
                 out_dir=Path(out), resume=resume == "1", on_step=on_step,
                 settings=TrainSettings(steps=10, lr=1e-2, seq_len=64, warmup_steps=2, save_every=1))
""")


def _run(args, **kw):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, **kw)


def test_sigkill_then_resume_is_bit_identical(tiny_dir, tiny_data, tmp_path):
    straight = tmp_path / "straight"
    assert _run([tiny_dir, tiny_data, straight, 0, 0]).wait(timeout=300) == 0

    killed = tmp_path / "killed"
    kill_at = random.Random(os.getpid()).randint(2, 8)
    proc = _run([tiny_dir, tiny_data, killed, 0, 0.3])
    deadline = time.time() + 300
    for line in proc.stdout:
        if int(line) >= kill_at or time.time() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not killed.exists()  # nothing half-written where the expert belongs
    ckpt = tmp_path / ".killed.checkpoint" / "checkpoint"
    assert ckpt.is_dir()

    resumed = _run([tiny_dir, tiny_data, killed, 1, 0])
    steps = [int(s) for s in resumed.stdout]
    assert resumed.wait(timeout=300) == 0
    assert steps and steps[0] > 1 and steps[-1] == 10  # it continued, it did not restart
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(killed / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not (tmp_path / ".killed.checkpoint").exists()  # cleaned up after success
