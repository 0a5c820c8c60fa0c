"""transformer-apps core: the public API for plugins.

    from core import App, hookimpl

``hookimpl`` marks plugin hook implementations (see ``core.hookspecs``); ``App`` is the base class of
every application. Nothing here imports torch.
"""

__version__ = "0.1.0"

from core.app import App  # noqa: E402
from core.errors import AppsError, NotAvailableError  # noqa: E402
from core.hookspecs import hookimpl  # noqa: E402

__all__ = ["App", "AppsError", "NotAvailableError", "hookimpl", "__version__"]
