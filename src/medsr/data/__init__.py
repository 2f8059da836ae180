"""Data model (:class:`Volume`), geometry helpers, datasets and the catalogue of package-shipped scans."""

from medsr.volume import Volume

__all__ = ["Volume"]
