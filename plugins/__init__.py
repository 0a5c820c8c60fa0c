"""The built-in plugins. Each sub-package uses only the public hooks of ``core.hookspecs``."""
