"""The state system's engine: SLS rendering, compiling to low chunks, running them.

State *modules* (``file.managed``, ``pkg.installed``) live in
:mod:`fluxforge.states`; this package turns a state tree into an ordered run
of them. :mod:`fluxforge.highstate.template` holds what every template
(SLS files and ``file.managed`` templates alike) is rendered with.
"""
