"""Every registered method; importing this package fills the registry.

One module per method family. Each module registers its methods with
:func:`core.registry.register_method`.
"""

from core.methods import evaluation, training  # noqa: F401
from core.methods import pruning  # noqa: F401
from core.methods import quantization  # noqa: F401
