"""Atomic output: everything is written to a temp dir beside the target, then renamed into place.

A failure leaves nothing half-written, and an existing output is only replaced when the caller
asked for it. A kill (SIGKILL, power loss) cannot clean up after itself, so temp dirs carry the
writer's pid (`.NAME.tmp-PID-XXXX`) and the next run on the same target removes those whose
writer is gone.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

from .errors import SmolMoEError

log = logging.getLogger("smolmoe")
# A temp dir whose name carries no pid (older versions) counts as abandoned after this long.
STALE_AFTER_S = 24 * 3600
# errno values that mean the disk, not the program, refused the write.
WRITE_FAILURES = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EIO}


class WriteError(SmolMoEError):
    """The output could not be written (disk full, file too large, read-only)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's live process
        return True
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temp dirs that interrupted runs left beside `target` (only its own, and only
    those whose writer is no longer running); log one line when there were any."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.tmp-(?:(\d+)-)?")
    removed = []
    if not target.parent.is_dir():
        return removed
    for entry in target.parent.iterdir():
        m = pattern.match(entry.name)
        if not m or not entry.is_dir() or entry.is_symlink():
            continue
        if m.group(1):
            stale = not _pid_alive(int(m.group(1)))
        else:
            stale = time.time() - entry.stat().st_mtime > STALE_AFTER_S
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    if removed:
        log.warning("removed %d temp dir(s) that an interrupted run left beside %s (%s)",
                    len(removed), target, ", ".join(p.name for p in removed))
    return removed


def write_failure(e: BaseException) -> bool:
    """Whether `e` says the disk refused a write. safetensors and torch.save report it as
    their own errors: SafetensorError("... I/O error ..."), and RuntimeErrors from torch's zip
    writer (PytorchStreamWriter / inline_container.cc / "iostream error")."""
    if isinstance(e, OSError):
        return e.errno in WRITE_FAILURES
    text = str(e)
    if type(e).__name__ == "SafetensorError":
        return any(s in text for s in ("I/O error", "IoError", "No space", "too large"))
    return isinstance(e, RuntimeError) and any(
        s in text for s in ("PytorchStreamWriter", "inline_container.cc", "iostream error"))


def check_writable_target(target: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse to clobber an existing output, or to write where we cannot (creates nothing)."""
    target = Path(target).absolute()
    if target.exists() and not overwrite:
        raise SmolMoEError(f"output {target} already exists (pass --overwrite to replace it)")
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise SmolMoEError(f"cannot write {target}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK):
        raise SmolMoEError(f"cannot write to {ancestor}: permission denied")
    remove_stale_temps(target)
    return target


def check_output_not_input(output: str | os.PathLike, inputs, what: str = "the output") -> Path:
    """Refuse (one line) an output that is, contains or sits inside one of `inputs` (paths;
    None entries are skipped): writing it would replace or change what the command reads.
    Symlinks are resolved, so another spelling of the same place is caught too."""
    out = Path(output).expanduser().resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).expanduser().resolve()
        relation = ("is" if out == source else "contains" if source.is_relative_to(out)
                    else "sits inside" if out.is_relative_to(source) else None)
        if relation:
            raise SmolMoEError(f"{what} {output} {relation} the input {given}: an output must "
                               f"never overwrite an input (write it elsewhere)")
    return out


def lock_path(directory: Path) -> Path:
    """The lock file of an in-place update of `directory`: beside it, so that the atomic
    replacement of the directory does not replace the lock too."""
    directory = Path(directory).absolute()
    return directory.parent / f".{directory.name}.lock"


@contextlib.contextmanager
def exclusive(directory: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold the lock on updating `directory` in place (an flock, released when the process
    ends, even by SIGKILL); a second writer is refused in one line instead of waiting."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SmolMoEError(f"{directory} is not a directory")
    path = lock_path(directory)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise SmolMoEError(f"cannot lock {directory} for {what}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise SmolMoEError(f"{directory} is being updated by {holder}; {what} waits for "
                               f"no one: run it again once that has finished") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what} (pid {os.getpid()})\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temp dir; on success it replaces `target`, on failure it is removed."""
    target = check_writable_target(target, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SmolMoEError(f"cannot create {target.parent}: {e.strerror}") from None
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; outputs are ordinary directories
    try:
        yield tmp
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if write_failure(e):
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)[:200]
            raise WriteError(f"could not write {target}: {reason} (nothing was left "
                             f"behind; free some space and run again)") from None
        raise
    old = None
    if target.exists():
        # Move the old output aside first, so a crash between the two renames loses nothing.
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None and old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    elif old is not None:
        old.unlink()


def temp_prefix(target: Path) -> str:
    """Name prefix of a temp dir writing `target`: its pid tells later runs if it is in use."""
    return f".{target.name}.tmp-{os.getpid()}-"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write a file via a temp file in the same directory and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike, error: type[SmolMoEError] = SmolMoEError, hint: str = ""):
    """A JSON file's content, or `error` naming the file (and `hint`, e.g. what to re-run)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error(f"{path} is not valid JSON{hint}") from None


def write_json(path: str | os.PathLike, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> Path:
    return atomic_write_text(
        path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
