"""Every registered method; importing this package fills the registry.

One subpackage or module per family; each registers its methods with
:func:`core.registry.register_method`.
"""

from core.methods import evaluation, training  # noqa: F401
from core.methods import pruning, factorization, distillation, sharing, quantization, analysis  # noqa: F401
