"""Plugin manager: loads built-in and third-party plugins safely and collects what they register.

Built-in plugins are the modules ``plugins.<name>``; third-party plugins are entry points in the group
``transformer_apps``. Both go through the same public hooks (``core.hookspecs``).

Safety rules: a plugin that fails to import, or whose ``register_*`` hook raises or registers something
invalid, is skipped with a one-line warning on stderr and its error is kept for ``apps plugins``. Set
``APPS_STRICT_PLUGINS=1`` to make that fatal. ``APPS_LOAD_PLUGINS=a,b`` loads only those third-party
plugins (an empty value loads none); ``APPS_DISABLE_PLUGINS=a,b`` skips any plugin, built-in or not.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from core import hookspecs
from core.errors import AppsError, PluginError

BUILTIN_PLUGINS = ("chat", "vit", "asr_tts", "timeseries", "control")
ENTRY_POINT_GROUP = "transformer_apps"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]*$")


def _env_list(variable: str) -> list[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _strict() -> bool:
    return os.environ.get("APPS_STRICT_PLUGINS", "").lower() in ("1", "true", "yes")


def suggest(name: str, choices) -> str:
    """A 'did you mean' hint, or the list of valid choices."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1)
    if close:
        return f"did you mean '{close[0]}'? Known: {', '.join(choices)}"
    return f"known: {', '.join(choices) or '(none)'}"


@dataclass
class PluginInfo:
    """What ``apps plugins`` reports about one plugin."""

    name: str
    module: str
    version: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Entry:
    """One registered thing and the plugin it came from."""

    key: Any
    value: Any
    plugin: str


class Registry:
    """Named things contributed by plugins. Refuses a second thing under the same key."""

    def __init__(self, kind: str):
        self.kind = kind
        self.entries: dict[Any, Entry] = {}

    def add(self, entry: Entry) -> None:
        if entry.key in self.entries:
            first = self.entries[entry.key]
            raise PluginError(
                f"{self.kind} {entry.key!r} is registered by both plugin '{first.plugin}' and plugin "
                f"'{entry.plugin}'.",
                hint=f"uninstall or disable one of them (APPS_DISABLE_PLUGINS={entry.plugin}).",
            )
        self.entries[entry.key] = entry

    def __contains__(self, key) -> bool:
        return key in self.entries

    def __getitem__(self, key) -> Any:
        return self.entries[key].value

    def __iter__(self):
        return iter(self.entries.values())

    def keys(self):
        return self.entries.keys()


def _app_entry(plugin, app_class) -> Entry:
    from core.app import App

    if not (isinstance(app_class, type) and issubclass(app_class, App)):
        raise PluginError(f"register_apps got {app_class!r}, which is not a subclass of core.App")
    if not NAME_PATTERN.match(app_class.name or ""):
        raise PluginError(f"app class {app_class.__name__} has an invalid name {app_class.name!r} (use lowercase letters)")
    app_class.plugin = plugin
    return Entry(app_class.name, app_class, plugin)


def _keyword_entry(*required: str, key: tuple[str, ...]):
    """``register(**fields)`` -> Entry keyed by ``key``, refusing a call that lacks a required field."""

    def make(plugin, **fields) -> Entry:
        missing = [name for name in required if not fields.get(name)]
        if missing:
            raise PluginError(f"registration {fields!r} lacks {', '.join(missing)}")
        value = tuple(fields[name] for name in key)
        return Entry(value[0] if len(key) == 1 else value, fields, plugin)

    return make


# hook name -> (what it registers, how one ``register(...)`` call becomes an Entry)
REGISTRIES = {
    "register_apps": ("app", _app_entry),
    "register_datasets": ("dataset", _keyword_entry("app", "name", "loader", key=("app", "name"))),
    "register_recipes": ("recipe", _keyword_entry("app", "name", "path", key=("app", "name"))),
    "register_sources": ("source", _keyword_entry("scheme", "opener", key=("scheme",))),
    "register_environments": ("environment", _keyword_entry("id", "entry_point", key=("id",))),
}


class Manager:
    """Loads plugins once and builds each registry the first time it is asked for."""

    def __init__(self):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry] = {}
        self._load()

    # ---- loading ------------------------------------------------------------------------------
    def _load(self) -> None:
        disabled = set(_env_list("APPS_DISABLE_PLUGINS") or [])
        for name in BUILTIN_PLUGINS:
            if name not in disabled:
                from core import __version__

                self._load_one(name, f"plugins.{name}", __version__, True, lambda n=name: f"plugins.{n}")
        allowed = _env_list("APPS_LOAD_PLUGINS")
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in disabled or (allowed is not None and ep.name not in allowed):
                continue
            version = ep.dist.version if ep.dist else "?"
            self._load_one(ep.name, ep.value, version, False, lambda ep=ep: ep)

    def add_plugin(self, module, name: str, version: str = "?") -> None:
        """Register a plugin object directly (notebooks, tests, apps embedding the core)."""
        self.plugins[name] = PluginInfo(name=name, module=getattr(module, "__name__", repr(module)), version=version,
                                        builtin=False)
        self.pm.register(module, name=name)
        self.plugins[name].hooks = self._hooks_of(module)
        self._registries.clear()

    def _hooks_of(self, module) -> list[str]:
        return sorted(caller.name for caller in self.pm.get_hookcallers(module) or [])

    def _load_one(self, name, module_name, version, builtin, target) -> None:
        info = PluginInfo(name=name, module=module_name, version=version, builtin=builtin)
        if name in self.plugins:
            first = self.plugins[name]
            info.error = f"a plugin named '{name}' is already loaded from {first.module}"
            self.plugins[f"{name} ({module_name})"] = info
            self._report(info)
            return
        self.plugins[name] = info
        try:
            spec = target()
            module = spec.load() if isinstance(spec, metadata.EntryPoint) else importlib.import_module(spec)
            self.pm.register(module, name=name)
        except Exception as exc:  # a broken plugin must never break the CLI
            info.error = self._describe(exc)
            self._report(info, exc)
            return
        info.hooks = self._hooks_of(module)

    @staticmethod
    def _describe(exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}".strip()

    def _report(self, info: PluginInfo, exc: BaseException | None = None) -> None:
        if _strict():
            raise PluginError(f"plugin '{info.name}' failed: {info.error}") from exc
        print(
            f"warning: plugin '{info.name}' skipped: {info.error} (see 'apps plugins')",
            file=sys.stderr,
        )
        if exc is not None and os.environ.get("APPS_DEBUG"):
            traceback.print_exception(exc)

    def _fail_plugin(self, name: str, exc: BaseException) -> None:
        info = self.plugins.get(name)
        if info is None:
            return
        info.error = self._describe(exc) if not isinstance(exc, PluginError) else exc.message
        self._report(info, exc)
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        for registry in self._registries.values():
            for key in [key for key, entry in registry.entries.items() if entry.plugin == name]:
                del registry.entries[key]

    # ---- registries ---------------------------------------------------------------------------
    def registry(self, hook_name: str) -> Registry:
        """The registry filled by ``hook_name`` (``register_apps``, ``register_datasets`` ...)."""
        if hook_name not in self._registries:
            kind, make_entry = REGISTRIES[hook_name]
            registry = self._registries[hook_name] = Registry(kind)
            # get_hookimpls() lists in load order: built-ins first, so they keep their names.
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                staged: list[Entry] = []

                def register(*args, _plugin=impl.plugin_name, _staged=staged, **kwargs):
                    _staged.append(make_entry(_plugin, *args, **kwargs))

                try:
                    impl.function(register=register)
                    for entry in staged:
                        registry.add(entry)
                except Exception as exc:
                    self._fail_plugin(impl.plugin_name, exc)
        return self._registries[hook_name]

    def apps(self) -> dict[str, type]:
        return {entry.key: entry.value for entry in self.registry("register_apps")}

    def app_class(self, name: str) -> type:
        apps = self.apps()
        if name not in apps:
            raise AppsError(f"unknown app '{name}'", hint=suggest(name, apps))
        return apps[name]

    def app(self, name: str):
        """A fresh instance of the app called ``name``."""
        return self.app_class(name)()

    def recipes(self, app: str) -> dict[str, dict]:
        return {entry.key[1]: entry.value for entry in self.registry("register_recipes") if entry.key[0] == app}

    def datasets(self, app: str) -> dict[str, dict]:
        return {entry.key[1]: entry.value for entry in self.registry("register_datasets") if entry.key[0] == app}

    def recipe_path(self, app: str, recipe: str) -> Path:
        """A recipe name registered for ``app``, or a path to a YAML file."""
        known = self.recipes(app)
        if recipe in known:
            return Path(known[recipe]["path"])
        path = Path(recipe)
        if path.suffix in (".yaml", ".yml") or path.exists():
            if not path.is_file():
                raise AppsError(f"recipe file {path} does not exist", hint=suggest(recipe, known))
            return path
        raise AppsError(f"unknown recipe '{recipe}' for app '{app}'", hint=suggest(recipe, known))

    # ---- events -------------------------------------------------------------------------------
    def notify_result(self, app, result: dict, context: dict) -> None:
        for impl in self.pm.hook.on_result.get_hookimpls():
            try:
                impl.function(**_pick(impl, app=app, result=result, context=context))
            except Exception as exc:
                print(f"warning: on_result of plugin '{impl.plugin_name}' failed: {exc}", file=sys.stderr)

    def train_event(self, event: str, state: dict) -> bool:
        """Tell every plugin about a training event; True when one of them asks to stop."""
        stop = False
        for impl in self.pm.hook.on_train_event.get_hookimpls():
            try:
                stop = impl.function(**_pick(impl, event=event, state=state)) is True or stop
            except Exception as exc:
                print(f"warning: on_train_event of plugin '{impl.plugin_name}' failed: {exc}", file=sys.stderr)
        return stop

    def add_commands(self, cli) -> None:
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self._fail_plugin(impl.plugin_name, exc)


def _pick(impl, **kwargs) -> dict:
    """Pass an implementation only the arguments it declares, as pluggy does."""
    return {name: kwargs[name] for name in impl.argnames}


_manager: Manager | None = None


def get_manager() -> Manager:
    """The process-wide plugin manager, created on first use."""
    global _manager
    if _manager is None:
        _manager = Manager()
    return _manager


def reset_manager() -> None:
    """Forget the loaded plugins (tests change the environment between calls)."""
    global _manager
    _manager = None
