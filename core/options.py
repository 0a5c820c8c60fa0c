"""Reusable click options, so every app spells the common ones the same way."""

from __future__ import annotations

import click


def model(default: str | None = None, help: str | None = None) -> click.Option:
    return click.Option(
        ["--model", "-m"],
        default=default,
        show_default=default is not None,
        help=help or "Model: a hub id, a timm name, a local folder or a run directory from 'apps train'.",
    )


def device() -> click.Option:
    return click.Option(
        ["--device"],
        default="auto",
        show_default=True,
        help="Where to run: auto (CUDA when present, else CPU), cpu, cuda, cuda:1 ...",
    )


def precision() -> click.Option:
    return click.Option(
        ["--precision"],
        type=click.Choice(["auto", "fp32", "fp16", "bf16"]),
        default="auto",
        show_default=True,
        help="Numeric precision; auto picks fp16/bf16 on CUDA, bf16 on CPUs that have it, else fp32.",
    )


def json_output() -> click.Option:
    return click.Option(["--json", "as_json"], is_flag=True, help="Print machine-readable JSON.")
