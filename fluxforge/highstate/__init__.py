"""The state system's engine: SLS rendering, compiling to low chunks, running them.

State *modules* (``file.managed``, ``pkg.installed``) live in
:mod:`fluxforge.states`; this package turns a state tree into an ordered run
of them. The pipeline, one module per step:

- :mod:`~fluxforge.highstate.top`: top files (shared with the pillar compiler);
- :mod:`~fluxforge.highstate.sls`: finding SLS files through the file client
  and rendering them;
- :mod:`~fluxforge.highstate.high`: gathering high data (include, extend, exclude);
- :mod:`~fluxforge.highstate.requisites`: requisite references and decisions;
- :mod:`~fluxforge.highstate.retry`: the ``retry`` argument of a state;
- :mod:`~fluxforge.highstate.compiler`: low chunks, requisite edges, run order;
- :mod:`~fluxforge.highstate.runner`: running the chunks, results, progress;
- :mod:`~fluxforge.highstate.engine`: the entry points (``top``, ``high``,
  ``low``, ``run``, ``run_single``) that :mod:`fluxforge.modules.state` calls.

:mod:`fluxforge.highstate.template` holds what every template (SLS files
and ``file.managed`` templates alike) is rendered with, and
:mod:`fluxforge.highstate.trees` what state trees share with the pillar
roots (SLS globs, relative includes, reading files).
"""
