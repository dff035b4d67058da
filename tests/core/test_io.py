import os
import time
from pathlib import Path

import pytest

from smolmoe.core.errors import SmolMoEError
from smolmoe.core.io import STALE_AFTER_S, atomic_dir, remove_stale_temps


def test_failure_leaves_nothing(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_overwrite_and_on_failure(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(SmolMoEError, match="already exists"):
        with atomic_dir(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic_dir(target, overwrite=True):
            raise RuntimeError("boom")
    assert (target / "old.txt").read_text() == "old"
    with atomic_dir(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_unwritable_parent(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SmolMoEError, match="not a directory"):
        with atomic_dir(blocker / "out"):
            pass


def _killed_mid_save(target: Path) -> Path:
    """Run a save in another process and SIGKILL it inside the temp dir: what it leaves."""
    import subprocess
    import sys
    code = ("import os, signal, sys\n"
            "from smolmoe.core.io import atomic_dir\n"
            "with atomic_dir(sys.argv[1]) as tmp:\n"
            "    (tmp / 'weights.bin').write_bytes(b'x' * 4096)\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code, str(target)], timeout=60)
    assert r.returncode == -9
    left = list(target.parent.glob(f".{target.name}.tmp-*"))
    assert len(left) == 1 and (left[0] / "weights.bin").is_file() and not target.exists()
    return left[0]


def test_the_next_run_removes_what_a_killed_save_left(tmp_path, caplog):
    target = tmp_path / "moe"
    stale = _killed_mid_save(target)
    busy = tmp_path / f".moe.tmp-{os.getpid()}-live"      # a save in progress: kept
    busy.mkdir()
    other = tmp_path / f".moe-hf.tmp-{stale.name.split('-')[1]}-x"   # another target's: kept
    other.mkdir()
    with caplog.at_level("WARNING", logger="smolmoe"):
        with atomic_dir(target) as tmp:
            (tmp / "ok").write_text("1")
    assert not stale.exists() and busy.exists() and other.exists()
    assert (target / "ok").read_text() == "1"
    notes = [r.getMessage() for r in caplog.records if r.name == "smolmoe"]
    assert len(notes) == 1 and "removed 1 temp dir(s)" in notes[0] and stale.name in notes[0]


def test_a_pidless_temp_dir_is_removed_only_when_old(tmp_path):
    old, new = tmp_path / ".moe.tmp-abc", tmp_path / ".moe.tmp-def"
    old.mkdir()
    new.mkdir()
    os.utime(old, (time.time() - 2 * STALE_AFTER_S,) * 2)
    assert remove_stale_temps(tmp_path / "moe") == [old]
    assert new.exists()


def test_the_cli_says_it_removed_stale_temp_dirs(tmp_path):
    from click.testing import CliRunner

    from smolmoe.cli.main import main
    stale = _killed_mid_save(tmp_path / "moe")
    r = CliRunner().invoke(main, ["assemble", "ghost1", "ghost2", "--router-init", "random",
                                  "--experts-root", str(tmp_path), "--out", str(tmp_path / "moe")])
    assert r.exit_code == 1 and not stale.exists(), r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("note: removed 1 temp dir(s)"), r.output
    assert lines[1].startswith("error: expert 'ghost1' not found")


@pytest.mark.parametrize("save", [
    "from safetensors.torch import save_file; save_file({'x': torch.zeros(100_000)}, str(tmp / 'w.safetensors'))",
    "torch.save({'x': torch.zeros(100_000)}, tmp / 'state.pt')",
    "(tmp / 'big.txt').write_bytes(b'x' * 100_000)",
])
def test_a_full_disk_during_a_save_is_one_error_and_leaves_nothing(tmp_path, save):
    """Every way we write weights, when the disk refuses (the file-size limit fails writes as
    a full disk does): a WriteError naming the target, and no temp dir left behind."""
    import resource
    import signal
    import subprocess
    import sys

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    code = ("import sys, torch\n"
            "from smolmoe.core.io import WriteError, atomic_dir\n"
            "try:\n"
            "    with atomic_dir(sys.argv[1]) as tmp:\n"
            f"        {save}\n"
            "except WriteError as e:\n"
            "    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True,
                       text=True, preexec_fn=small_files, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith(f"could not write {tmp_path / 'out'}"), r.stderr
    assert list(tmp_path.iterdir()) == []
