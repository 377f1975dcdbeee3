"""Write a directory or a file so that readers only ever see a complete one."""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(out: Path):
    """Yield `OUT.tmp` to fill; on success it replaces OUT by renames. A run killed in between
    leaves the previous version as `OUT.old` (the training loop's `find_checkpoint` looks there)."""
    out = Path(out)
    tmp, old = out.with_name(out.name + ".tmp"), out.with_name(out.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(out: Path):
    """Yield `OUT.PID.tmp` to write; on success it replaces OUT in one rename, on failure it is
    removed: readers only ever see the old file or the whole new one. The process id keeps two
    processes writing the same file from renaming each other's half-written one."""
    out = Path(out)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
