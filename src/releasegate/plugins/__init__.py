"""Plugins: one small `Registry[T]` for every kind of extension (backends, guards, and later
suites and exporters), fed by entry-point groups. releasegate's own backends and guards are
declared in its pyproject.toml exactly as a third party declares its own.

`releasegate plugins list` shows every registered name and the package it comes from.
"""

from releasegate.plugins._registry import CODE, Plugin, PluginError, Registry

__all__ = ["CODE", "Plugin", "PluginError", "Registry"]
