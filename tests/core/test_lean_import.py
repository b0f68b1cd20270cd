import os
import subprocess
import sys


# Every module of core is imported (found by walking the package, so a new package is covered without being
# named here), except the Alembic scripts, which run a migration when imported, and `python -m` entry points.
WALK_CORE = """
import importlib, json, pkgutil, sys
import core
skip = ("core.db.migrations",)
names, failed = [], {}
for info in pkgutil.walk_packages(core.__path__, "core."):
    if info.name.startswith(skip) or info.name.endswith(".__main__"):
        continue
    try:
        importlib.import_module(info.name)
        names.append(info.name)
    except Exception as exc:
        failed[info.name] = f"{type(exc).__name__}: {exc}"
import core.registry
core.registry.all_methods()
bad = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'studio')})
import torch
print(json.dumps({"names": names, "failed": failed, "bad": bad, "cuda": torch.cuda.is_initialized()}))
"""


def test_core_never_imports_qt_or_cuda():
    import json

    proc = subprocess.run([sys.executable, "-c", WALK_CORE], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["failed"] == {}, found["failed"]  # every module of core imports on its own
    assert found["bad"] == [] and not found["cuda"], found
    packages = {name for name in found["names"] if name.count(".") == 1}
    assert {"core.cli", "core.data", "core.db", "core.engine", "core.export", "core.methods", "core.metrics",
            "core.models", "core.scoring", "core.services", "core.study", "core.tasks"} <= packages, packages
    assert len(found["names"]) > 100  # modules, not only packages


def test_the_studio_window_module_does_not_import_torch():
    """The window opens before torch is loaded (the warm-up loads it off the GUI thread)."""
    code = "import sys, studio.main_window; sys.exit(1 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
