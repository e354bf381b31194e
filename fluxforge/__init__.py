"""FluxForge: remote execution, desired state and event-driven automation."""

__version__ = "0.1.0"
