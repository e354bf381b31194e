"""Built-in execution modules; each public function is callable as module.function."""
