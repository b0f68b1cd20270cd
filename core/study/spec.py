"""The study file: a template recipe, what varies, an objective, constraints and a budget.

One versioned format (YAML or JSON, like recipes). Steps are named by their
1-based number in the template's stack, as recipe messages name them
("step 2 (prune.heads)"). Every problem is reported at once, each naming its
field: ``order.steps: step 7 does not exist (the template has 4 steps)``.

.. code-block:: yaml

    format: bert-studio-study
    version: 1
    name: heads, ffn and int8: does order matter?
    kind: order                  # order | grid | search
    recipe: ../recipes/x.yaml    # a recipe file (relative to this file) or an inline recipe mapping
    order: {steps: [2, 3, 4], orders: all, full: true}
    grid:  {variants: [{name: light, settings: {2: {amount: 0.3}}, skip: [4]}]}
    search:
      params: [{step: 2, setting: amount, low: 0.2, high: 0.7}, {step: 4, setting: bits, choices: [4, 8]}]
      optional: [4]              # steps that a trial may leave out
      sampler: tpe               # tpe | nsga2
      pruner: median             # median | none (stops trials losing on their validation curve)
    objective: accuracy_retained # a score (see core.scoring) or a list of figures (several objectives)
    constraints: ["speedup >= 3", "accuracy_retained >= 0.98"]
    budget: {trials: 20, seconds: 3600}

The file is read through the studio's one guarded loader (:mod:`core.recipe_text`: size, UTF-8, repeated
keys, YAML aliases). The name and seed are checked as a recipe's own fields are; figure names (constraints,
objectives, scores) by :func:`core.scoring.figure_problem`; the budget is bounded (:data:`MAX_TRIALS`,
:data:`MAX_SECONDS`) and so are a grid's variants and a search's choices (:data:`MAX_VARIANTS`,
:data:`MAX_CHOICES`, :data:`MAX_PARAMS`).

``StudySpec.load`` / ``from_text`` / ``from_dict`` return the type of the file's kind:
:class:`OrderStudy`, :class:`GridStudy` or :class:`SearchStudy` (:mod:`core.study.kinds`), subclasses of
:class:`StudySpec`, which holds what they share: name, recipe, objective, constraints, budget and seed
(:mod:`core.study.spec_base`); the readers of the shared fields are in :mod:`core.study.spec_fields`.
"""

from core.study.kinds import (MAX_CHOICES, MAX_PARAMS, MAX_VARIANTS, PRUNERS, SAMPLERS, GridStudy, OrderStudy, Param,
                              SearchStudy)
from core.study.spec_base import FORMAT, FORMAT_VERSION, KINDS, StudySpec
from core.study.spec_fields import MAX_SECONDS, MAX_TRIALS, Constraint, StudyError, apply_variant

__all__ = ["FORMAT", "FORMAT_VERSION", "KINDS", "MAX_CHOICES", "MAX_PARAMS", "MAX_SECONDS", "MAX_TRIALS",
           "MAX_VARIANTS", "PRUNERS", "SAMPLERS", "Constraint", "GridStudy", "OrderStudy", "Param", "SearchStudy",
           "StudyError", "StudySpec", "apply_variant"]
