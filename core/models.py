"""Model resolution and safe loading, one place for every app.

A model spec (``--model``) is one of:

* a run directory written by ``apps train`` (it holds ``run.json``)      -> kind ``run``
* an ONNX file (``*.onnx``)                                               -> kind ``onnx``
* a local folder (``config.json``, weights ...) or a weights file         -> kind ``folder`` / ``file``
* a timm model name (``timm/NAME`` or a name ``timm.is_model`` knows)      -> kind ``timm``
* a Hugging Face hub id (``org/name``)                                    -> kind ``hub``

Downloads are cached under ``$APPS_HOME/hub``. Offline (``HF_HUB_OFFLINE=1`` or no network) a model that is
not cached is an :class:`AppsError` that says how to get it (``apps prepare APP``). ``trust_remote_code``
stays off unless the caller passes it; PyTorch checkpoints load with ``weights_only=True``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import AppsError
from core.paths import apps_home, default_model_dir

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


@dataclass(frozen=True)
class ModelRef:
    """A resolved model spec: ``kind`` (run, onnx, folder, file, timm, hub) and where it is."""

    kind: str
    location: str
    spec: str

    @property
    def is_local(self) -> bool:
        return self.kind in ("run", "onnx", "folder", "file")

    @property
    def path(self) -> Path:
        return Path(self.location)


def hub_cache() -> Path:
    """Where downloaded hub models live: ``$APPS_HOME/hub``."""
    return apps_home() / "hub"


def is_offline() -> bool:
    """``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` set, or the hub cannot be reached (checked once)."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(variable, "").lower() in ("1", "true", "yes", "on"):
            return True
    return not hub_reachable()


@lru_cache(maxsize=1)
def hub_reachable(host: str = "huggingface.co", timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _looks_like_path(spec: str) -> bool:
    # hub ids have one slash at most (org/name); paths start like paths or end like weight files
    return (
        spec.startswith((".", "/", "~")) or spec.count("/") > 1 or spec.endswith((".onnx", *WEIGHT_SUFFIXES))
    )


def _is_timm_name(spec: str) -> bool:
    if spec.startswith("timm/"):
        return True
    if "/" in spec:
        return False
    try:
        import timm
    except ImportError:
        return False
    return bool(timm.is_model(spec))


def resolve_model(spec: str | None, app=None) -> ModelRef:
    """Classify ``spec`` (``None``: the app's prepared default model when built, else its ``default_model``)."""
    from core.rundir import is_run_dir

    app_name = getattr(app, "name", None) or (app if isinstance(app, str) else None)
    if spec in (None, ""):
        if app_name and is_run_dir(default_model_dir(app_name)):
            return ModelRef("run", str(default_model_dir(app_name)), str(default_model_dir(app_name)))
        spec = getattr(app, "default_model", None)
        if not spec:
            raise AppsError(
                "no model given and this app has no default model",
                hint=f"pass --model, or build one with 'apps prepare {app_name or 'APP'}'.",
            )
    spec = str(spec)
    path = Path(spec).expanduser()
    if path.exists():
        if is_run_dir(path):
            return ModelRef("run", str(path), spec)
        if path.is_file():
            return ModelRef("onnx" if path.suffix == ".onnx" else "file", str(path), spec)
        return ModelRef("folder", str(path), spec)
    if _looks_like_path(spec):
        raise AppsError(
            f"model path {spec} does not exist",
            hint="pass an existing folder, run directory or file, or a hub id such as microsoft/phi-1_5.",
        )
    if _is_timm_name(spec):
        return ModelRef("timm", spec.removeprefix("timm/"), spec)
    return ModelRef("hub", spec, spec)


def missing_model_error(spec: str, app=None, cause: Exception | None = None) -> AppsError:
    app_name = getattr(app, "name", None) or (app if isinstance(app, str) else None) or "APP"
    offline = is_offline()
    why = "the hub is offline" if offline else f"it could not be loaded ({type(cause).__name__}: {cause})"
    return AppsError(
        f"model '{spec}' is not in the cache ({hub_cache()}) and {why}",
        hint=f"run 'apps prepare {app_name}' (online it downloads the model, offline it builds the app's "
        f"default), or pass --model with a local folder or run directory.",
    )


def hf_from_pretrained(cls, spec: str, app=None, trust_remote_code: bool = False, **kwargs):
    """``cls.from_pretrained`` for a hub id, local folder or run directory, cached under ``$APPS_HOME/hub``;
    offline it never waits on the network, and a model that is not there becomes a clear AppsError."""
    ref = resolve_model(spec, app)
    if ref.kind in ("onnx", "file"):
        raise AppsError(f"{spec} is a single file; {cls.__name__} needs a model folder or hub id")
    kwargs.setdefault("trust_remote_code", trust_remote_code)
    if ref.is_local:
        try:
            return cls.from_pretrained(ref.location, **kwargs)
        except (OSError, ValueError) as exc:
            raise AppsError(f"cannot load {cls.__name__} from {ref.location}: {exc}") from None
    offline = is_offline()
    try:
        return cls.from_pretrained(
            ref.location, cache_dir=str(hub_cache()), local_files_only=offline, **kwargs
        )
    except OSError as first:
        if offline:  # maybe it is in the user's ordinary Hugging Face cache
            try:
                return cls.from_pretrained(ref.location, local_files_only=True, **kwargs)
            except OSError:
                pass
        raise missing_model_error(spec, app, first) from None


def timm_create(name: str, pretrained: bool = True, app=None, **kwargs):
    """``timm.create_model`` with weights cached under ``$APPS_HOME/hub``; offline and not cached is an
    AppsError (pass ``pretrained=False`` for a randomly initialised model)."""
    import timm

    if pretrained and is_offline():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on the network
    try:
        return timm.create_model(
            name.removeprefix("timm/"), pretrained=pretrained, cache_dir=str(hub_cache()), **kwargs
        )
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise AppsError(f"timm has no model '{name}'", hint="see timm.list_models()") from None
        raise
    except OSError as exc:
        raise missing_model_error(name, app, exc) from None
    except Exception as exc:  # huggingface_hub raises its own offline errors here
        if type(exc).__module__.startswith("huggingface_hub"):
            raise missing_model_error(name, app, exc) from None
        raise


def torch_load(path: str | Path, map_location="cpu"):
    """A PyTorch checkpoint, loaded safely (``weights_only=True``: tensors and plain containers only)."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise AppsError(f"checkpoint {path} does not exist") from None
    except Exception as exc:
        if "weights_only" in str(exc).lower() or "unsupported global" in str(exc).lower():
            raise AppsError(
                f"{path} holds Python objects besides weights, and loading it could run code",
                hint="re-save it as safetensors or as a plain state_dict.",
            ) from None
        raise


def load_weights(path: str | Path, map_location="cpu") -> dict:
    """A state dict from ``*.safetensors`` or a PyTorch file (safely)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device=str(map_location))
    return torch_load(path, map_location)
