"""The ``apps`` command line. Importing this module must stay cheap: no torch, no transformers.

Verbs that act on an app (``apps run vit``, ``apps eval chat`` ...) are click groups whose sub-commands
are built on demand from the registered App classes, so ``apps run vit --help`` shows vit's own options.
"""

from __future__ import annotations

import json
import sys

import click

from core import __version__
from core.app import App
from core.errors import AppsError
from core.plugins import get_manager

VERB_HELP = {
    "run": "Run an app live (camera, microphone, terminal chat, forecast ...).",
    "eval": "Measure an app's quality on held-out data.",
    "train": "Fine-tune an app's model with a recipe: apps train APP --recipe NAME [key=value ...].",
    "prepare": "Download (online) or build (offline) what an app needs to run.",
    "export": "Export an app's model (ONNX, merged weights ...).",
    "collect": "Record a dataset for an app (camera frames, demonstrations ...).",
    "serve": "Serve an app over HTTP.",
    "bench": "Benchmark an app's speed and memory against its peer.",
}


def _verb_callback(verb: str, app_class: type[App]):
    def callback(**options):
        app = app_class()
        if verb == "train":
            from core.training.cli import train_from_cli

            return train_from_cli(app, **options)
        if verb == "bench":
            from core.bench import bench_from_cli

            return bench_from_cli(app, **options)
        from core.app import VERB_METHODS

        return getattr(app, VERB_METHODS[verb])(**options)

    return callback


def _verb_params(verb: str) -> list[click.Parameter]:
    """Options every app gets for a verb, owned by the core."""
    if verb == "train":
        from core.training.cli import train_params

        return train_params()
    if verb == "bench":
        from core.bench import bench_params

        return bench_params()
    return []


class AppVerb(click.Group):
    """``apps VERB APP``: one sub-command per registered app, built when asked for."""

    # Verbs that also take "all": the command comes from core.<verb>.all_command().
    ALL = ("bench", "prepare")

    def list_commands(self, ctx) -> list[str]:
        return list(get_manager().apps()) + (["all"] if self.name in self.ALL else [])

    def get_command(self, ctx, name: str) -> click.Command | None:
        if name == "all" and self.name in self.ALL:
            from importlib import import_module

            return import_module(f"core.{self.name}").all_command()
        apps = get_manager().apps()
        if name not in apps:
            return None
        app_class = apps[name]
        verb = self.name
        offered = app_class.offers(verb)
        help_text = app_class.description if offered else f"(not available) {app_class.description}"
        return click.Command(
            name,
            params=_verb_params(verb) + app_class.cli_options(verb) if offered else [],
            callback=_verb_callback(verb, app_class),
            help=help_text,
            short_help=help_text,
            context_settings={"show_default": True},
        )

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            from core.plugins import suggest

            name = args[0] if args else ""
            raise click.UsageError(f"unknown app '{name}'; {suggest(name, get_manager().apps())}") from None


class Root(click.Group):
    """The root group; plugins add commands through ``register_commands``."""

    def _ensure_plugin_commands(self) -> None:
        if not getattr(self, "_plugin_commands_added", False):
            self._plugin_commands_added = True
            get_manager().add_commands(self)

    def list_commands(self, ctx):
        self._ensure_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._ensure_plugin_commands()
        return super().get_command(ctx, name)


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="apps")
@click.option(
    "--profile",
    envvar="APPS_PROFILE",
    metavar="NAME",
    help="Device profile (orin-nano-8gb, orin-nx-16gb, agx-orin-64gb, cuda, cpu); detected when omitted.",
)
def cli(profile):
    """transformer-apps: Transformer models as working applications, on Jetson boards and PCs.

    \b
    Start here:
      apps list                      the installed apps
      apps run vit --camera 0        live image classification from a camera
      apps run chat                  chat in the terminal
      apps train vit --recipe vit-tiny-digits
      apps info APP                  what an app offers: verbs, recipes, datasets

    Every command has --help.
    """
    if profile:
        import os

        from core.profiles import get_profile

        os.environ["APPS_PROFILE"] = get_profile(profile).name


for _verb, _help in VERB_HELP.items():
    cli.add_command(AppVerb(name=_verb, help=_help, short_help=_help))


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_apps(as_json):
    """List the installed apps, their plugin and what they do."""
    apps = get_manager().apps()
    rows = [{"app": name, "plugin": cls.plugin, "description": cls.description} for name, cls in apps.items()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(rows, ["app", "plugin", "description"])


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_plugins(as_json):
    """List loaded plugins: version, hooks implemented and load errors."""
    manager = get_manager()
    manager.apps()  # registering may fail a plugin: show that too
    rows = [
        {
            "plugin": info.name,
            "version": info.version,
            "builtin": info.builtin,
            "module": info.module,
            "hooks": info.hooks,
            "error": info.error,
        }
        for info in manager.plugins.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(
        [
            {**row, "builtin": "yes" if row["builtin"] else "no", "hooks": ", ".join(row["hooks"]) or "-",
             "error": row["error"] or ""}
            for row in rows
        ],
        ["plugin", "version", "builtin", "hooks", "error"],
    )


@cli.command("info")
@click.argument("app_name", metavar="APP")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(app_name, as_json):
    """Show what an app offers: its verbs, recipes, datasets and default model."""
    manager = get_manager()
    app_class = manager.app_class(app_name)
    verbs = [verb for verb in [*VERB_HELP, "demo"] if app_class.offers(verb)]
    recipes = {name: value.get("description", "") for name, value in manager.recipes(app_name).items()}
    datasets = {name: value.get("description", "") for name, value in manager.datasets(app_name).items()}
    data = {
        "app": app_name,
        "plugin": app_class.plugin,
        "description": app_class.description,
        "default_model": app_class.default_model,
        "verbs": verbs,
        "recipes": recipes,
        "datasets": datasets,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(f"{app_name}: {app_class.description}")
    click.echo(f"  plugin:        {app_class.plugin}")
    click.echo(f"  default model: {app_class.default_model or '-'}")
    click.echo(f"  verbs:         {', '.join(verbs) or '-'}")
    for title, items in (("recipes", recipes), ("datasets", datasets)):
        click.echo(f"  {title}:" + ("" if items else " -"))
        for name, description in sorted(items.items()):
            click.echo(f"    {name:<28} {description}")


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True, help="Where to create the package folder.")
def new_plugin(name, directory):
    """Write a third-party plugin package NAME in the layout of the built-in plugins: an App, its recipe,
    model, data, training and offline default, and its tests (docs/plugins.md).

    \b
    Then:  pip install -e apps-NAME  &&  apps prepare NAME  &&  apps run NAME "text"  &&  pytest apps-NAME
    """
    from core.scaffold import write_plugin

    folder = write_plugin(name, directory)
    app = name.replace("_", "-")
    click.echo(f"created {folder}\nnext: pip install -e {folder} && apps prepare {app} && apps run {app} 'is it on?'")


@cli.command("demo")
@click.argument("apps", nargs=-1, metavar="[APP ...]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; other than localhost needs --auth.")
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--auth", metavar="USER:PASS", help="Ask visitors for this user name and password.")
@click.option("--kiosk", is_flag=True, help="One app full-screen with large type, for a booth's touch screen.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
def demo(apps, host, port, auth, kiosk, open_browser):
    """Web demo with one tab per app (Gradio), plus a training tab. Offline: nothing is fetched from the
    internet, and no share link is made.

    \b
    apps demo                      every app with a tab, on http://127.0.0.1:7860
    apps demo vit --kiosk          one app full-screen for a booth
    apps demo --host 0.0.0.0 --auth booth:secret
    """
    from core.demo import launch

    launch(list(apps) or None, host=host, port=port, auth=auth, kiosk=kiosk, open_browser=open_browser)


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--root", default="/", hidden=True, help="Read system files below this folder (recorded fixtures).")
def doctor(as_json, root):
    """Report the environment: Python, torch, CUDA/cuDNN/TensorRT, Jetson module and L4T release, power
    mode, memory, cameras, audio, OpenCV GStreamer, espeak-ng, and what each app can do here."""
    from pathlib import Path

    from core.doctor import format_report, report

    data = report(Path(root))
    click.echo(json.dumps(data, indent=2) if as_json else format_report(data))


def _table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        click.echo("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns).rstrip())


def main() -> None:
    try:
        cli.main(prog_name="apps")
    except AppsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    finally:
        from core.training.distributed import shutdown

        shutdown()


if __name__ == "__main__":
    main()
