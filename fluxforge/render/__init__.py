"""Renderers: Jinja, YAML and JSON pipelines for state trees, pillar and templates."""
