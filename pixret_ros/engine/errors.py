"""Errors of the engine: each names the instance, file or value at fault and how to fix it."""

from __future__ import annotations


class PixretError(Exception):
    """Base of every error pixret_ros raises on purpose."""


class GalleryError(PixretError):
    """A gallery operation was refused (bad name, image, mask or file); the gallery is unchanged."""


class ConfigError(PixretError):
    """An engine setting is out of range or inconsistent."""


class FrameError(PixretError):
    """A frame given to the engine has the wrong shape or dtype."""
