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

    def conflict(self, entry: Entry) -> PluginError:
        first = self.entries[entry.key]
        return PluginError(
            f"{self.kind} {entry.key!r} is registered by both plugin '{first.plugin}' and plugin "
            f"'{entry.plugin}'.",
            hint=f"uninstall or disable one of them (APPS_DISABLE_PLUGINS={entry.plugin}).",
        )

    def add(self, entry: Entry) -> None:
        if entry.key in self.entries:
            raise self.conflict(entry)
        self.entries[entry.key] = entry

    def owner(self, key) -> str | None:
        """The plugin that registered ``key``, if any."""
        return self.entries[key].plugin if key in self.entries else None

    def __contains__(self, key) -> bool:
        return key in self.entries

    def __getitem__(self, key) -> Any:
        return self.entries[key].value

    def __iter__(self):
        return iter(self.entries.values())

    def keys(self):
        return self.entries.keys()


@dataclass(frozen=True)
class Schema:
    """What one ``register(**fields)`` call of a registry hook must and may pass, and what keys it.

    A plugin that adds a registry hook of its own (``register_hookspecs``) describes it with a Schema and
    reads it with ``get_manager().registry(hook_name, schema)``.
    """

    kind: str
    key: tuple[str, ...]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ("description",)

    def entry(self, plugin: str, **fields) -> Entry:
        allowed = (*self.key, *self.required, *self.optional)
        unknown = sorted(set(fields) - set(allowed))
        if unknown:
            raise PluginError(
                f"{self.kind} registration {fields!r} has unknown field(s) {', '.join(unknown)}; "
                f"valid fields: {', '.join(allowed)}"
            )
        missing = [name for name in (*self.key, *self.required) if not fields.get(name)]
        if missing:
            raise PluginError(f"{self.kind} registration {fields!r} lacks {', '.join(missing)}")
        value = tuple(fields[name] for name in self.key)
        return Entry(value[0] if len(self.key) == 1 else value, fields, plugin)


def _is_app_class(value) -> bool:
    """``issubclass(value, core.app.App)``, by the class's identity: core.app imports this module (App.emit
    reaches the manager), so importing App here would close an import cycle."""
    return isinstance(value, type) and any(
        (base.__module__, base.__qualname__) == ("core.app", "App") for base in value.__mro__
    )


class AppSchema(Schema):
    """``register_apps`` takes App classes, not fields."""

    def entry(self, plugin: str, app_class=None, **fields) -> Entry:
        if fields or not _is_app_class(app_class):
            raise PluginError(f"register_apps got {app_class or fields!r}, which is not a subclass of core.App")
        if not NAME_PATTERN.match(app_class.name or ""):
            raise PluginError(
                f"app class {app_class.__name__} has an invalid name {app_class.name!r} (use lowercase letters)"
            )
        app_class.plugin = plugin
        return Entry(app_class.name, app_class, plugin)


# The core's registry hooks (``core.hookspecs``) and what each registration holds.
REGISTRIES = {
    "register_apps": AppSchema("app", key=("name",)),
    "register_datasets": Schema("dataset", key=("app", "name"), required=("loader",)),
    "register_recipes": Schema("recipe", key=("app", "name"), required=("path",)),
    "register_sources": Schema("source", key=("scheme",), required=("opener",)),
}


class Manager:
    """Loads plugins once and builds each registry the first time it is asked for.

    Hooks are called one implementation at a time, so that one plugin raising is reported and skipped
    while the others go on: ``tryfirst`` implementations first, ``trylast`` ones last, the others in load
    order (built-ins, then third-party plugins in entry-point order). Load order rather than pluggy's
    newest-first keeps registries predictable: the first plugin to register a name keeps it, and the other
    is reported. Hook wrappers (``hookwrapper``/``wrapper``) cannot take part in such calls and are refused
    when the plugin loads. A built-in app, recipe, dataset or source keeps its name even against a
    third-party ``tryfirst``.
    """

    def __init__(self):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry] = {}
        self._specs_added: set[str] = set()  # plugins whose register_hookspecs has run
        self._load()

    # ---- loading ------------------------------------------------------------------------------
    def _load(self) -> None:
        from core import __version__

        disabled = set(_env_list("APPS_DISABLE_PLUGINS") or [])
        for name in BUILTIN_PLUGINS:
            if name not in disabled:
                self._load_one(name, f"plugins.{name}", __version__, True, lambda n=name: f"plugins.{n}")
        allowed = _env_list("APPS_LOAD_PLUGINS")
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in disabled or (allowed is not None and ep.name not in allowed):
                continue
            version = ep.dist.version if ep.dist else "?"
            self._load_one(ep.name, ep.value, version, False, lambda ep=ep: ep)
        self._add_plugin_hookspecs()

    def add_plugin(self, module, name: str, version: str = "?") -> None:
        """Register a plugin object directly (notebooks, tests, apps embedding the core)."""
        self.plugins[name] = PluginInfo(name=name, module=getattr(module, "__name__", repr(module)), version=version,
                                        builtin=False)
        self._register(module, name)
        self.plugins[name].hooks = self._hooks_of(module)
        self._add_plugin_hookspecs()
        self._registries.clear()

    def _register(self, module, name: str) -> None:
        self.pm.register(module, name=name)
        for caller in self.pm.get_hookcallers(module) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is module and (impl.hookwrapper or getattr(impl, "wrapper", False)):
                    self.pm.unregister(module)
                    raise PluginError(
                        f"{name}.{caller.name} is a hook wrapper, which transformer-apps does not support "
                        "(each implementation is called on its own, so one failing plugin cannot stop the others)",
                        hint="use @hookimpl(tryfirst=True) or @hookimpl(trylast=True) to run before or after "
                        "the others.",
                    )

    def _add_plugin_hookspecs(self) -> None:
        """Let plugins add hook specifications of their own (``register_hookspecs``), once per plugin."""
        for impl in self._impls("register_hookspecs"):
            if impl.plugin_name in self._specs_added:
                continue
            self._specs_added.add(impl.plugin_name)
            try:
                impl.function(**_pick(impl, register=self.pm.add_hookspecs))
            except Exception as exc:
                self._fail_plugin(impl.plugin_name, exc)

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
            self._register(module, name)
        except Exception as exc:  # a broken plugin must never break the CLI
            info.error = self._describe(exc)
            self._report(info, exc)
            return
        info.hooks = self._hooks_of(module)

    @staticmethod
    def _describe(exc: BaseException) -> str:
        return exc.message if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}".strip()

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
        info.error = self._describe(exc)
        self._report(info, exc)
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        for registry in self._registries.values():
            for key in [key for key, entry in registry.entries.items() if entry.plugin == name]:
                del registry.entries[key]

    def _builtin(self, plugin: str) -> bool:
        return plugin in self.plugins and self.plugins[plugin].builtin

    # ---- hook calls ---------------------------------------------------------------------------
    def _impls(self, hook_name: str) -> list:
        """A hook's implementations in call order: ``tryfirst`` ones, then the others in load order, then
        ``trylast`` ones (pluggy keeps them as [trylast newest first, plain, tryfirst])."""
        caller = getattr(self.pm.hook, hook_name, None)
        impls = caller.get_hookimpls() if caller is not None else []
        first = [impl for impl in impls if impl.tryfirst]
        last = [impl for impl in impls if impl.trylast]
        plain = [impl for impl in impls if not (impl.tryfirst or impl.trylast)]
        return first + plain + last[::-1]

    # ---- registries ---------------------------------------------------------------------------
    def registry(self, hook_name: str, schema: Schema | None = None) -> Registry:
        """The registry filled by ``hook_name``: the core's (``register_apps``, ``register_datasets`` ...)
        or a plugin's own registry hook, described by ``schema``."""
        if hook_name not in self._registries:
            schema = schema or REGISTRIES.get(hook_name)
            if schema is None:
                raise AppsError(f"no registry hook '{hook_name}'", hint=suggest(hook_name, REGISTRIES))
            registry = self._registries[hook_name] = Registry(schema.kind)
            for impl in self._impls(hook_name):
                self._collect(impl, registry, schema)
        return self._registries[hook_name]

    def _collect(self, impl, registry: Registry, schema: Schema) -> None:
        """Call one plugin's registry hook; a failure drops everything that plugin registered."""
        plugin = impl.plugin_name
        staged: list[Entry] = []
        try:
            impl.function(**_pick(impl, register=lambda *args, **fields: staged.append(
                schema.entry(plugin, *args, **fields))))
            for entry in staged:
                holder = registry.owner(entry.key)
                if holder and self._builtin(plugin) and not self._builtin(holder):
                    self._fail_plugin(holder, registry.conflict(entry))  # the built-in keeps its name
                registry.add(entry)
        except Exception as exc:
            self._fail_plugin(plugin, exc)

    def apps(self) -> dict[str, type]:
        """Every app by name, in the order of their ``order`` attribute, then by name."""
        entries = sorted(self.registry("register_apps"), key=lambda e: (e.value.order, e.key))
        return {entry.key: entry.value for entry in entries}

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
    def _notify(self, hook_name: str, **kwargs) -> list:
        """Call every implementation of an ``on_*`` hook; a failing one is reported, the others go on."""
        results = []
        for impl in self._impls(hook_name):
            try:
                results.append(impl.function(**_pick(impl, **kwargs)))
            except Exception as exc:
                print(f"warning: {hook_name} of plugin '{impl.plugin_name}' failed: {exc}", file=sys.stderr)
        return results

    def notify_result(self, app, result: dict, context: dict) -> None:
        self._notify("on_result", app=app, result=result, context=context)

    def train_event(self, event: str, state: dict) -> bool:
        """Tell every plugin about a training event; True when one of them asks to stop."""
        return any(answer is True for answer in self._notify("on_train_event", event=event, state=state))

    def add_commands(self, cli) -> None:
        for impl in self._impls("register_commands"):
            try:
                impl.function(**_pick(impl, cli=cli))
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
