"""The Study view: set up an order, search or grid study from the current stack, run it, watch it live.

Qt-free pieces (:mod:`studio.study.spec_builder`) turn the form's choices into a study file mapping that
:class:`core.study.spec.StudySpec` validates; :mod:`studio.study.session` runs the study's workers in
``bert-studio study worker`` processes and re-emits their events on the GUI thread; the widgets draw
:func:`core.study.runner.study_report`.
"""
