"""common.py -- the small helpers every Python bench driver needs, once.

bench/per_run, bench/catalog and bench/scale each load sibling modules by
path (the bench folders are not packages), print progress to stderr, stop
with an error and take medians of samples that may be missing.  They import
this module after putting bench/lib on sys.path, as they do for report.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import report


def load(name: str, path: Path) -> ModuleType:
    """Import the file at path as module `name` (registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def say(msg: str) -> None:
    """Progress: one line on stderr (stdout is the bench's table)."""
    print(msg, file=sys.stderr, flush=True)


def die(msg: str, bench: str) -> NoReturn:
    """Stop the bench: `<bench>: error: <msg>` on stderr, exit status 1."""
    say(f"{bench}: error: {msg}")
    sys.exit(1)


def med(xs: list[float | None]) -> float | None:
    """Median of the samples that exist, None when there are none."""
    s = report.stats([x for x in xs if x is not None])
    return s["median"] if s else None
