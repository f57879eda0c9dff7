"""The installed sam3lib version (recorded in exports and engine-cache keys)."""

__version__ = "0.1.0"
