"""Simulation engine: flat array layout, backends and their registry."""

from neurosim.engine.registry import backend_status, get_backend, register_backend, resolve_backend_name

__all__ = ["backend_status", "get_backend", "register_backend", "resolve_backend_name"]
