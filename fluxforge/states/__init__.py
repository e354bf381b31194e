"""Built-in state modules: ``file.managed``, ``pkg.installed``, ``service.running``, ..."""
