"""A stand-in for smolmoe.data.recipes.sources.Fetcher that serves in-memory archives, offline.

`files` maps (package, member) to text or bytes; `unavailable` names packages whose every
read raises SourceUnavailable, as the real fetcher does when a registry no longer serves one.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from smolmoe.data.recipes.sources import SourceUnavailable


class FakeFetch:
    def __init__(self, files: dict[tuple[str, str], str | bytes] | None = None,
                 stdlib: Path | None = None, unavailable=()):
        self.files = dict(files or {})
        self.stdlib = stdlib
        self.unavailable = set(unavailable)

    def _check(self, package: str) -> None:
        if package in self.unavailable:
            raise SourceUnavailable(package, "not served (test)")

    def archive(self, package: str) -> Path:
        self._check(package)
        return Path(f"/fake/{package}.whl")

    def read_bytes(self, package: str, member: str) -> bytes:
        self._check(package)
        data = self.files.get((package, member), b"")
        return data.encode("utf-8") if isinstance(data, str) else data

    def read(self, package: str, member: str) -> str:
        return self.read_bytes(package, member).decode("utf-8")

    def members(self, package: str, prefix: str) -> list[str]:
        self._check(package)
        return sorted(m for p, m in self.files if p == package and m.startswith(prefix))

    def stdlib_dir(self) -> Path:
        self._check("stdlib")
        return self.stdlib


def sqlite_bytes(tmp_path: Path, name: str, script: str) -> bytes:
    """The bytes of a sqlite database made by `script` (an archive a fake source serves)."""
    path = tmp_path / name
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    con.close()
    return path.read_bytes()
