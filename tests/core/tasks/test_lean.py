import subprocess
import sys


def test_task_names_figures_and_readers_import_without_torch_datasets_or_seqeval():
    """The studio's palette and data panel can name tasks and figures without loading the heavy libraries."""
    code = ("import sys, core.tasks.kinds, core.tasks.figures, core.tasks.tags, core.tasks.token_data, "
            "core.tasks.qa_data, core.tasks.table_data, core.tasks.token_features, core.tasks.qa_features, "
            "core.tasks.qa_spans, core.tasks.metrics.entities, core.tasks.metrics.qa, core.tasks.metrics.regression, "
            "core.tasks.metrics.multilabel;"
            "heavy = [m for m in ('torch', 'transformers', 'datasets', 'seqeval', 'sklearn', 'scipy', 'PySide6') "
            "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
