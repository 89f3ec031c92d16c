"""``python -m benchmarks``: run every benchmark module of this package that has ``run()``.

Each ``run()`` returns ``(name, value, unit)`` figures; a unit carries the
ratio to the reference measured in the same run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main(argv: list[str]) -> None:
    wanted = set(argv)
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or (wanted and info.name not in wanted):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        run = getattr(module, "run", None)
        if run is None:
            continue
        for name, value, unit in run():
            print(f"{info.name}: {name:44s} {value:10.3f} {unit}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
