"""The installed version of releasegate (a module of its own, so that any package may import it
without importing the top-level package)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("releasegate")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["__version__"]
