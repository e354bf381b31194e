"""The plugin runtime: the loader of execution and state modules, the job context, return values.

Custom modules import :mod:`fluxforge.plugin`, the stable surface, rather than these.
"""
