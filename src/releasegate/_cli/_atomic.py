"""Write a directory of files all at once, or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from releasegate.errors import InputError, Problem


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse a path that is a file, or a non-empty directory unless `force`.

    Raises:
        InputError: the directory cannot be used.
    """
    if out.exists() and not out.is_dir():
        raise InputError(str(out), [Problem("exists and is not a directory")])
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(
            str(out), [Problem("directory exists and is not empty (use --force to replace it)")]
        )


def write_dir_atomically(out: Path, files: dict[str, bytes], force: bool = False) -> None:
    """Write `files` into `out` through a sibling temporary directory and a rename.

    Readers see either the old directory or the complete new one; on any error the temporary
    directory (and any parent directory this call created) is removed and `out` is left as it
    was. Each file is fsync'ed before the rename, so a crash cannot leave empty files behind.

    Args:
        out: the directory to create (or, with `force`, to replace).
        files: file name -> content.
        force: replace an existing non-empty directory.

    Raises:
        InputError: `out` is unusable, or the files cannot be written (exit code 2 in the CLI).
    """
    check_out_dir(out, force)
    missing_parents = [p for p in out.parents if not p.exists()]  # deepest first
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _swap_in(out, files)
    except BaseException as exc:
        for parent in missing_parents:
            with contextlib.suppress(OSError):
                parent.rmdir()  # only empty directories go
        if isinstance(exc, OSError):
            message = f"cannot write: {exc.strerror or exc}"
            raise InputError(str(out), [Problem(message)]) from exc
        raise


def _swap_in(out: Path, files: dict[str, bytes]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for name, content in files.items():
            with open(tmp / name, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; the result is an ordinary directory
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / "dir")
            try:
                os.rename(tmp, out)
            except OSError:
                os.rename(old / "dir", out)  # put the old directory back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["check_out_dir", "write_dir_atomically"]
