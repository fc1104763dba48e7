"""The on-disk cache of tables derived from botocore's data, and botocore's loader.

Every botocore-derived table (host shapes, the service index, default client hosts)
is cached here, keyed on the botocore installed, so the audit, the lab and the
analysis share one cache and one invalidation rule: :func:`cache_file` names the
file, :func:`write_cache` replaces it atomically, :func:`loader` is botocore's data
loader (imported only when a cache is cold).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from collections.abc import Callable
from typing import Any

FORMAT = 3  # bump when what the cached tables hold changes


@functools.lru_cache(maxsize=1)
def loader():
    from botocore.loaders import create_loader  # only when the cached tables are cold

    return create_loader()


def cache_file(kind: str, ext: str) -> str:
    """Where tables derived from botocore's data are cached: keyed on the files botocore
    is installed as and the mtimes of its data search paths (those of ``create_loader()``:
    ~/.aws/models and botocore/data), so a new botocore or a user model makes a new key.
    Computed without importing botocore (~80 ms), which a warm cache then never needs."""
    spec = importlib.util.find_spec("botocore")
    pkg = os.path.dirname(spec.origin) if spec and spec.origin else ""
    parts = [str(FORMAT), kind]
    for f in (os.path.join(pkg, "__init__.py"), os.path.join(pkg, "data"),
              *(os.path.join(base, name)
                for base in (os.path.expanduser("~/.aws/models"), os.path.join(pkg, "data"))
                for name in ("", "endpoints.json", "partitions.json"))):
        try:
            parts.append(f"{f}:{os.stat(f).st_mtime_ns}")
        except OSError:
            parts.append(f"{f}:-")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "proxylab", f"botocore-{kind}-{key}.{ext}")


def write_cache(path: str, dump: Callable[[Any], None], binary: bool = False) -> None:
    """Replace a cache file atomically (concurrent audits never read half a file);
    a cache that cannot be written only costs the next run its derivation."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb" if binary else "w") as fh:
            dump(fh)
        os.replace(tmp, path)
    except OSError:
        pass
