"""``bert-studio methods`` and ``bert-studio validate RECIPE``."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("methods", help="list the registered compression methods and their settings")
    p.add_argument("name", nargs="?", help="show one method's settings")
    p.set_defaults(func=list_methods)
    v = sub.add_parser("validate", help="check a recipe file without running it")
    v.add_argument("recipe")
    v.set_defaults(func=validate)


def list_methods(args) -> int:
    from core.registry import all_methods, get_method

    if args.name:
        try:
            spec = get_method(args.name)
        except KeyError as exc:
            from core.errors import StudioError

            raise StudioError(exc.args[0]) from None
        print(f"{spec.name} ({spec.family}): {spec.title}\n  {spec.description}\n")
        for f in spec.fields():
            bounds = f" [{f.min}..{f.max}]" if f.min is not None or f.max is not None else ""
            choices = f" one of {', '.join(map(str, f.choices))}" if f.choices else ""
            print(f"  {f.name} = {f.default!r}{bounds}{choices}\n      {f.help}")
        return 0
    family = None
    for spec in all_methods():
        if spec.family != family:
            family = spec.family
            print(f"\n{family}:")
        print(f"  {spec.name:<24} {spec.title}")
    return 0


def validate(args) -> int:
    from core.applicability import require_applicable
    from core.models.loading import check_model_source
    from core.recipe import Recipe

    recipe = Recipe.load(args.recipe).validate()
    require_applicable(recipe)  # steps the model's family or int8 state cannot take
    check_model_source(recipe.model.source)  # what run refuses of the model: its family, weights, tokenizer
    task, notes = _check_task(recipe)  # the task against the model folder's head, and the task's data
    print(f"{args.recipe}: valid ({len(recipe.steps)} steps: {' -> '.join(s.method for s in recipe.steps)})")
    print(f"  {task}")
    for note in notes:
        print(f"  note: {note}")
    return 0


def _check_task(recipe) -> tuple[str, tuple]:
    """The recipe's task against its model folder's head, and its data (read, mapped and tokenized as ``run``
    reads it; beyond sequence classification the label count checked against the head): a line saying what was
    checked, and the data's notes (rows dropped, merged or normalised). Raises the error that ``run`` would meet
    (a :class:`~core.errors.ModelLoadError` naming both tasks, a :class:`~core.errors.DataLoadError` naming
    file, row and field)."""
    from core.data.kinds import describe
    from core.data.task import prepare_task
    from core.models.loading import check_folder_task, load_tokenizer
    from core.tasks.kinds import TaskKind

    kind = check_folder_task(recipe.model.source, recipe.task)
    task = prepare_task(recipe.data, load_tokenizer(recipe.model.source), kind)
    if kind is not TaskKind.SEQUENCE_CLASSIFICATION:
        check_folder_task(recipe.model.source, kind, task.num_labels)
    return f"task {describe(task)}", task.notes
