"""Atomic output: everything is written to a temp dir beside the target, then renamed into place.

A failure (or a kill) therefore leaves nothing half-written, and an existing output is only
replaced when the caller asked for it.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from .errors import SmolMoEError


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
    return target


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temp dir; on success it replaces `target`, on failure it is removed."""
    target = check_writable_target(target, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SmolMoEError(f"cannot create {target.parent}: {e.strerror}") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; outputs are ordinary directories
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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


def write_json(path: str | os.PathLike, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> Path:
    return atomic_write_text(
        path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
