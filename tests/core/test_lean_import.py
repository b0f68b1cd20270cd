import os
import subprocess
import sys


def test_core_never_imports_qt_or_cuda():
    code = (
        "import sys, core, core.recipe, core.registry, core.events, core.engine, core.cli;"
        "core.registry.all_methods();"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'studio')];"
        "import torch; assert not torch.cuda.is_initialized();"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_studio_window_module_does_not_import_torch():
    """The window opens before torch is loaded (the warm-up loads it off the GUI thread)."""
    code = "import sys, studio.main_window; sys.exit(1 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
