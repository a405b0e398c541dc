"""releasegate: decide how far to open a foundation model, then share it that far and no further."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("releasegate")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["__version__"]
