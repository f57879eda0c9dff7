"""Typed exceptions raised by sam3lib.

Every error a user can trigger derives from :class:`Sam3Error`, so applications can catch one
type; the subclasses say what went wrong and the message says what to do about it.
"""

from __future__ import annotations


class Sam3Error(Exception):
    """Base class of every error sam3lib raises on purpose."""


class ConfigError(Sam3Error, ValueError):
    """A model configuration is inconsistent or not a SAM 3 configuration."""


class CheckpointError(Sam3Error):
    """A checkpoint could not be found, read or matched to the model."""


class NotASam3CheckpointError(CheckpointError):
    """The file or directory holds something other than SAM 3 weights."""


class CorruptCheckpointError(CheckpointError):
    """The checkpoint file is truncated or damaged."""


class CheckpointKeyError(CheckpointError):
    """The checkpoint's tensors do not match the model: missing, unexpected or misshapen keys."""


class HubAccessError(CheckpointError):
    """The Hugging Face Hub refused access (gated repository, bad token) or is unreachable."""


class InputError(Sam3Error, ValueError):
    """An argument given to sam3lib has the wrong type, shape, dtype or value."""


class BackendUnavailableError(Sam3Error):
    """A backend needs a package or device this machine lacks (the message names the extra)."""


class InteractiveUnavailableError(Sam3Error):
    """Clicks, boxes or automatic masks were asked of a checkpoint without the interactive
    (tracker) head, e.g. a detector-only conversion; text and exemplar prompts still work."""
