"""Errors that the CLI shows to users as one clear message (what, where, how to fix) instead of a traceback."""

from __future__ import annotations


class AppsError(Exception):
    """A user-facing error. ``hint`` says how to fix it; ``where`` is a file:line when there is one."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class NotAvailableError(AppsError):
    """A verb that an app does not offer (yet)."""

    exit_code = 2


class PluginError(AppsError):
    """A plugin that could not be loaded or that registered something invalid."""
