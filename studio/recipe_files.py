"""The window's file and storage actions: open and save recipes, recent recipes, the runs database location.

A mixin of :class:`~studio.main_window.MainWindow`, kept apart so the window
module stays about layout and wiring.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from core.errors import StudioError
from core.naming import UNNAMED, stack_name
from core.recipe import Recipe
from core.recipe_diff import effective_recipe
from core.recipe_parts import NAME_LENGTH
from studio.dialogs import errors
from studio.runs_store import DatabaseRunsStore

RECIPE_FILTER = "Recipes (*.yaml *.yml *.json);;All files (*)"


def examples_folder() -> Path:
    """The ready-made stacks shipped with the repository (resources/recipes)."""
    import studio

    return Path(studio.__file__).resolve().parents[1] / "resources" / "recipes"


def example_recipes() -> list[tuple[str, Path]]:
    """``(name, path)`` for each shipped recipe that loads, sorted by name; a broken file is left out."""
    out = []
    for path in sorted(examples_folder().glob("*.y*ml")):
        try:
            out.append((Recipe.load(path).name or path.stem, path))
        except StudioError:
            continue
    return sorted(out)


def _caps(data) -> str:
    return "/".join("all" if n is None else f"{n:,}" for n in (data.train_samples, data.validation_samples,
                                                                data.test_samples))


def kept_inputs(example: Recipe, current: Recipe) -> list[str]:
    """What opening ``example`` over ``current`` keeps of the window's model, data and sample caps, in words."""
    out = []
    if example.model.source != current.model.source:
        out.append(f"model {current.model.source} (the example's: {example.model.source})")
    if example.data.source != current.data.source:
        out.append(f"data {current.data.source} (the example's: {example.data.source})")
    if _caps(example.data) != _caps(current.data):
        out.append(f"train/validation/test rows {_caps(current.data)} (the example's: {_caps(example.data)})")
    if example.data.max_length != current.data.max_length:
        out.append(f"max length {current.data.max_length} (the example's: {example.data.max_length})")
    return out


class RecipeFilesMixin:
    def may_discard_changes(self, what: str) -> bool:
        """True when nothing is modified, or the user saved or discarded the changes before ``what`` replaces them.

        Every unsaved-changes prompt asks the same: Save (then go on only if it was saved), Discard, or Cancel.
        """
        if not self.is_modified():
            return True
        choice = errors.ask_save_discard_cancel(self, "Unsaved changes", "The recipe (its stack, settings, model or "
                                                f"data) has changes that are not saved. Save them before you {what}?")
        if choice == "save":
            return self.save_recipe(self.recipe_path)
        return choice == "discard"

    def new_recipe(self) -> bool:
        """File > New: an empty stack; the model, data and device stay as chosen."""
        if not self.may_discard_changes("start a new, empty stack"):
            return False
        self.recipe_path = None
        self._title = "new stack"
        current = self.recipe_model.recipe
        self.set_recipe(Recipe(name="untitled", evaluation=current.evaluation, seed=current.seed), keep_inputs=True)
        return True

    def open_recipe(self, path: str | Path | None = None) -> bool:
        if not self.may_discard_changes("open another recipe"):
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open recipe", self.settings.last_folder("recipes"),
                                                  RECIPE_FILTER)
            if not path:
                return False
        try:
            recipe = Recipe.load(path)
        except StudioError as exc:
            errors.report_exception(self, "This recipe cannot be opened", exc)
            return False
        self.recipe_path = Path(path)
        self.set_recipe(recipe)
        self._editing(path)
        return True

    def save_recipe(self, path: str | Path | None = None) -> bool:
        if path is None:
            start = Path(self.settings.last_folder("recipes")) / (self.recipe_path.name if self.recipe_path
                                                                   else "recipe.yaml")
            path, _ = QFileDialog.getSaveFileName(self, "Save recipe", str(start), RECIPE_FILTER)
            if not path:
                return False
        recipe = self.recipe()
        if str(recipe.name or "").strip() in UNNAMED:  # not "untitled" in the file: the name built from the stack
            recipe.name = stack_name(recipe.steps)[:NAME_LENGTH]
        try:
            recipe.save(path)
        except OSError as exc:
            errors.report_exception(self, "The recipe could not be saved", exc)
            return False
        self.recipe_model.set_name(recipe.name)  # the name now in the file
        self._editing(path)
        self.mark_clean()
        return True

    def _editing(self, path: str | Path) -> None:
        """``path`` is the recipe file being edited: saved over by Save, first among the recent, in the title."""
        self.recipe_path = Path(path)
        self._remember("recipes", str(path))
        self.settings.set_last_folder("recipes", path)
        self.update_title()

    def open_example(self, path: str | Path) -> bool:
        """Load a shipped stack into the editor; it is not remembered as the file to save over.

        An example is a stack: the model, the data (with its sample caps) and the device chosen in the window stay.
        """
        if not self.may_discard_changes("open this example"):
            return False
        try:
            recipe = Recipe.load(path)
        except StudioError as exc:
            errors.report_exception(self, "This example cannot be opened", exc)
            return False
        self.recipe_path = None  # Save asks where, so the shipped example is never overwritten
        self._title = f"example: {recipe.name}"
        kept = kept_inputs(recipe, self.recipe_model.recipe)
        self.set_recipe(recipe, keep_inputs=True)
        self._example = recipe
        self.inputs_note.show_kept(kept)
        return True

    def use_example_inputs(self) -> None:
        """The note's "Use the example's": the opened example's model and data (with its caps) replace the window's."""
        example = getattr(self, "_example", None)
        if example is None:
            return
        # What "as opened" means takes the example's model and data: an unedited stack is the example as shipped.
        shipped = effective_recipe(example.to_dict())
        self._clean = {**self._clean, "model": shipped["model"], "data": shipped["data"]}
        self.recipe_model.set_model_source(example.model.source)
        self.recipe_model.set_data(example.data)
        self.inputs_note.hide()
        self.update_validity()

    def _fill_examples_menu(self) -> None:
        self.examples_menu.clear()
        for name, path in example_recipes():
            action = self.examples_menu.addAction(name, lambda p=path: self.open_example(p))
            action.setToolTip(str(path))
        self.examples_menu.setEnabled(not self.examples_menu.isEmpty())

    def _remember(self, kind: str, item: str) -> None:
        self.settings.add_recent(kind, item)
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent("recipes"):
            self.recent_menu.addAction(path, lambda p=path: self.open_recipe(p))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    # -- the runs database ---------------------------------------------
    def choose_database(self, url: str | None = None) -> bool:
        """Switch the runs database (asks with a dialog when ``url`` is None); the old one is left untouched.

        The new location is remembered and opened on the next start, whatever BERT_STUDIO_DB says.
        """
        if self._database_busy():
            return False
        if url is None:
            from studio.dialogs.database_dialog import DatabaseDialog

            dialog = DatabaseDialog(self.store_url(), self, self.database_origin(), self.settings.default_database()[0])
            if not dialog.exec():
                return False
            if dialog.use_default:
                return self.use_default_database()
            if not dialog.url:
                return False
            url = dialog.url
        if not self._switch_store(url):
            return False
        self.settings.set_database_url(url)
        self._show_database()
        return True

    def use_default_database(self) -> bool:
        """Forget the chosen location and switch to the default ($BERT_STUDIO_DB, else the studio home's)."""
        if self._database_busy():
            return False
        if not self._switch_store(self.settings.default_database()[0]):
            return False
        self.settings.clear_database_url()
        self._show_database()
        return True

    def _database_busy(self) -> bool:
        if self.controller.running or len(self.queue):
            errors.show_error(self, "Runs database", "Wait for the run and the queue to finish before moving the "
                              "runs database.")
            return True
        return False

    def _switch_store(self, url: str) -> bool:
        store = DatabaseRunsStore(url)
        if not store.available:
            errors.show_error(self, "Runs database", store.error)
            return False
        old = self.store
        self.controller.set_store(store)
        self.store = store
        self.browser.set_store(store)
        old.close()
        self.log.append_line(f"runs database: {url}")
        return True

    def store_url(self) -> str:
        return str(getattr(self.store, "url", "") or self.settings.database_url())

    def database_origin(self) -> str:
        """Why the database in use is this one: "chosen", "environment", "default", or "given" (by the caller)."""
        url, origin = self.settings.database_choice()
        return origin if url == self.store_url() else "given"

    def database_note(self) -> str:
        """The database in use and why, in one sentence (status bar tooltip, About)."""
        from studio.dialogs.database_dialog import describe_origin

        return f"Runs database: {self.store_url()} \u2014 {describe_origin(self.database_origin())}."

    def _show_database(self) -> None:
        url = self.store_url()
        name = Path(url[len("sqlite:///"):]).name if url.startswith("sqlite:///") else url
        if len(name) > 40:
            name = name[:18] + "\u2026" + name[-18:]
        self.database_label.setText(f"Runs: {name}")
        self.database_label.setToolTip(f"{self.database_note()}<br>File \u25b8 Runs database location changes it.")
