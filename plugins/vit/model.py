"""Models of the vit app: a timm ViT wrapped for training and saving, and one inference interface over
timm names, Hugging Face ViT ids, run directories and ONNX files.

Imported lazily (torch, timm): never from ``plugins/vit/__init__.py`` or at module level of ``app.py``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core import (
    AppsError,
    dtype_name,
    hf_from_pretrained,
    hub_cache,
    require_default,
    resolve_device,
    resolve_dtype,
    resolve_model,
    timm_create,
)
from plugins.vit.data import fit_square, normalize, read_labels_file, write_labels_file

DEFAULT_TIMM_MODEL = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"
CONFIG_NAME = "vit_config.json"  # written by TimmClassifier.save_pretrained, read back by load_classifier
WEIGHTS_NAME = "model.safetensors"
# how long 'apps prepare vit' takes to build the offline default
BUILD_TAKES = "about 15 minutes on 2 CPU cores"


# ---- the trainable model --------------------------------------------------------------------------
class TimmClassifier(nn.Module):
    """A timm VisionTransformer with the interface the training engine expects.

    ``forward(pixel_values, labels=None)`` returns a transformers ``ImageClassifierOutput`` (loss when
    labels are given); ``save_pretrained``/``from_pretrained`` write and read a folder holding the weights
    (safetensors), ``vit_config.json`` (timm architecture + overrides + preprocessing) and ``labels.txt``.
    """

    def __init__(
        self,
        architecture: str,
        labels: list[str],
        model_args: dict | None = None,
        pretrained: bool = False,
        preprocess: dict | None = None,
    ):
        super().__init__()
        import timm

        self.architecture = architecture
        self.labels = list(labels)
        self.model_args = dict(model_args or {})
        self.label_smoothing = 0.0  # a training setting (recipe), not saved with the model
        timm_args = dict(self.model_args)
        stem_width = int(timm_args.pop("conv_stem", 0))
        stem_depth = timm_args.pop("conv_stem_depth", 1)
        self.model = create_timm(architecture, pretrained, num_classes=len(self.labels), **timm_args)
        if stem_width:
            self.model.patch_embed.proj = conv_stem(self.model.patch_embed.patch_size[0], stem_width,
                                                    self.model.embed_dim, stem_depth)  # fmt: skip
        cfg = self.model.pretrained_cfg
        size = self.model.patch_embed.img_size
        self.preprocess = {
            "image_size": int(size[0] if isinstance(size, (tuple, list)) else size),
            "mean": list(cfg.get("mean", timm.data.IMAGENET_DEFAULT_MEAN)),
            "std": list(cfg.get("std", timm.data.IMAGENET_DEFAULT_STD)),
            "crop_pct": 1.0,
            **(preprocess or {}),
        }

    def forward(self, pixel_values, labels=None):
        from transformers.modeling_outputs import ImageClassifierOutput

        logits = self.model(pixel_values)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)
        return ImageClassifierOutput(loss=loss, logits=logits)

    def config_dict(self) -> dict:
        return {
            "format": "transformer-apps/timm-vit",
            "architecture": self.architecture,
            "model_args": self.model_args,
            "num_classes": len(self.labels),
            "preprocess": self.preprocess,
        }

    def save_pretrained(self, directory, state_dict=None, **_ignored) -> None:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = state_dict if state_dict is not None else self.state_dict()
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(directory / WEIGHTS_NAME))
        (directory / CONFIG_NAME).write_text(json.dumps(self.config_dict(), indent=2))
        write_labels_file(directory / "labels.txt", self.labels)

    @classmethod
    def from_pretrained(cls, directory, weights: bool = True) -> TimmClassifier:
        directory = Path(directory)
        config = json.loads((directory / CONFIG_NAME).read_text())
        labels = read_labels_file(directory / "labels.txt")
        if len(labels) != config["num_classes"]:
            raise AppsError(
                f"labels.txt lists {len(labels)} classes but the model has {config['num_classes']} outputs",
                where=str(directory / "labels.txt"),
                hint="restore the labels.txt written by training, one class name per line",
            )
        model = cls(config["architecture"], labels, config.get("model_args"), False, config.get("preprocess"))
        if weights:
            from safetensors.torch import load_file

            state = load_file(str(directory / WEIGHTS_NAME))
            missing, unexpected = model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise AppsError(
                    f"{directory / WEIGHTS_NAME} does not match its vit_config.json "
                    f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
                )
        return model


def conv_stem(patch_size: int, width: int, embed_dim: int, depth: int | list[int] = 1) -> nn.Module:
    """A convolutional stem in place of the patch embedding (Xiao et al. 2021, "Early convolutions help
    transformers see better"): stride-2 3x3 convolutions down to the same token grid (``depth`` convolutions
    per stage, or a list with one count per stage: the first with stride 2, the others stride 1), then a 1x1
    to the embedding width. A ViT trained from scratch on little data and CPU time learns several times
    faster."""
    stages = int(math.log2(patch_size))
    if 2**stages != patch_size:
        raise AppsError(f"conv_stem needs a power-of-two patch_size, not {patch_size}")
    depths = [int(d) for d in depth] if isinstance(depth, (list, tuple)) else [int(depth)] * stages
    if len(depths) != stages:
        raise AppsError(
            f"conv_stem_depth {list(depths)} needs one count per stage ({stages} for patch {patch_size})"
        )
    layers, channels = [], 3
    for stage in range(stages):
        out = width * 2**stage
        for conv in range(max(1, depths[stage])):
            stride = 2 if conv == 0 else 1
            layers += [
                nn.Conv2d(channels, out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
    return nn.Sequential(*layers, nn.Conv2d(channels, embed_dim, 1))


def fuse_conv_stem(vit: nn.Module) -> None:
    """For inference: fold each batch norm of a convolutional stem into the convolution before it (the
    same outputs, half the stem's calls per frame), and keep its weights channels-last: PyTorch's im2col path,
    which it takes for 3x3 convolutions at batch 1, runs faster in that layout (about 0.3 ms less per frame
    on one CPU thread). The module must be in eval mode."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    stem = getattr(getattr(vit, "patch_embed", None), "proj", None)
    if not isinstance(stem, nn.Sequential) or vit.training:
        return
    layers, fused = list(stem), []
    while layers:
        layer = layers.pop(0)
        if isinstance(layer, nn.Conv2d) and layers and isinstance(layers[0], nn.BatchNorm2d):
            layer = fuse_conv_bn_eval(layer, layers.pop(0))
        fused.append(layer)
    vit.patch_embed.proj = nn.Sequential(*fused).eval().to(memory_format=torch.channels_last)


def create_timm(name: str, pretrained: bool, **kwargs):
    """A timm model through ``core.timm_create``; its weights from the local cache when they are there
    (no network needed), and a name timm does not know is an error that lists names like it."""
    import timm

    base = name.removeprefix("timm/").split(".")[0]
    if not timm.is_model(base):
        close = timm.list_models(f"*{base.split('_')[0]}*")[:8]
        raise AppsError(
            f"'{name}' is not a timm model, a run directory, an ONNX file or a folder",
            hint=f"timm models like it: {', '.join(close) or 'see timm.list_models()'}",
        )
    cached = cached_timm_weights(name) if pretrained else None
    if cached:
        kwargs["pretrained_cfg_overlay"] = {"file": cached}
    return timm_create(name, pretrained, app="vit", **kwargs)


def cached_timm_weights(name: str) -> str | None:
    """Path of a timm model's weights in the Hugging Face cache, or None."""
    import timm

    try:
        hub_id = timm.models.get_pretrained_cfg(name).hf_hub_id
    except Exception:
        return None
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    for cache_dir in (hub_cache(), None):  # $APPS_HOME/hub, then the user's Hugging Face cache
        for filename in ("model.safetensors", "pytorch_model.bin"):
            path = try_to_load_from_cache(hub_id, filename, cache_dir=cache_dir)
            if isinstance(path, str) and os.path.isfile(path):
                return path
    return None


# ---- inference ------------------------------------------------------------------------------------
class Classifier:
    """One interface for every backend: preprocess a BGR frame, classify a batch, attention maps.

    Attributes: ``name``, ``backend`` ("torch" | "onnx"), ``labels``, ``image_size``, ``mean``, ``std``,
    ``crop_pct``, ``supports_attention``, ``device``, ``dtype``.
    """

    backend = "torch"
    supports_attention = False
    device = "cpu"
    dtype = "fp32"

    def __init__(self, name: str, labels: list[str], preprocess: dict):
        self.name, self.labels = name, list(labels)
        self.image_size = int(preprocess["image_size"])
        self.mean, self.std = preprocess["mean"], preprocess["std"]
        self.crop_pct = float(preprocess.get("crop_pct", 1.0))

    def preprocess(self, image_bgr: np.ndarray) -> np.ndarray:
        """BGR frame -> normalised 3xSxS float32 (OpenCV + numpy; safe to call from a capture thread)."""
        return normalize(fit_square(image_bgr, self.image_size, self.crop_pct), self.mean, self.std)

    def _run(self, batch: np.ndarray, attention: bool):
        raise NotImplementedError

    def classify(self, batch: np.ndarray, attention: bool = False):
        """``batch`` N x 3 x S x S -> (probabilities N x C, attention maps N x g x g or None)."""
        return self._run(np.ascontiguousarray(batch, dtype=np.float32), attention)

    def use_threads(self, threads: int) -> Callable[[], None]:
        """Each call uses ``threads`` threads (0: the runtime's own count), and idle ones sleep rather than
        spin where the runtime allows it: the live pipeline shares the cores with its capture and sink
        threads and other model workers. Returns a function that undoes it."""
        return lambda: None

    def top_k(self, probs: np.ndarray, k: int = 5) -> list[list[dict]]:
        k = min(k, probs.shape[1])
        order = np.argsort(-probs, axis=1)[:, :k]
        return [
            [{"label": self.labels[i], "index": int(i), "score": round(float(p[i]), 4)} for i in row]
            for p, row in zip(probs, order, strict=True)
        ]

    def describe(self) -> dict:
        return {
            "model": self.name,
            "backend": self.backend,
            "device": str(self.device),
            "dtype": self.dtype,
            "image_size": self.image_size,
            "classes": len(self.labels),
        }


class TorchClassifier(Classifier):
    """A timm or transformers ViT in PyTorch; attention rollout by hooking each block's qkv projection."""

    supports_attention = True

    def __init__(self, name, module, labels, preprocess, device, dtype, kind: str):
        super().__init__(name, labels, preprocess)
        self.kind = kind  # "timm" | "hf"
        self.module = module.to(device=device, dtype=dtype).eval()
        self.device, self.torch_dtype, self.dtype = device, dtype, dtype_name(dtype)
        self._qkv: list = []
        if kind == "timm":
            self.vit = module.model if isinstance(module, TimmClassifier) else module
            fuse_conv_stem(self.vit)
            for block in self.vit.blocks:
                block.attn.qkv.register_forward_hook(self._keep_qkv)

    def use_threads(self, threads: int) -> Callable[[], None]:
        previous = torch.get_num_threads()  # process-wide; OpenMP's wait policy is fixed at start-up
        torch.set_num_threads(threads or previous)
        return lambda: torch.set_num_threads(previous)

    def _keep_qkv(self, module, inputs, output):
        if self._capture:
            self._qkv.append(output)

    _capture = False

    @torch.inference_mode()
    def _run(self, batch, attention):
        pixels = torch.from_numpy(batch).to(self.device, self.torch_dtype)
        maps = None
        if self.kind == "hf":
            out = self.module(pixel_values=pixels, output_attentions=attention)
            logits = out.logits
            if attention:
                maps = rollout([a.float() for a in out.attentions], 1, self._grid())
        else:
            self._capture, self._qkv = attention, []
            try:
                logits = self.module(pixels)
                logits = logits.logits if hasattr(logits, "logits") else logits
            finally:
                self._capture = False
            if attention:
                maps = rollout(self._timm_attentions(), self.vit.num_prefix_tokens, self._grid())
                self._qkv = []
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return probs, (maps.cpu().numpy() if maps is not None else None)

    def _grid(self) -> tuple[int, int]:
        if self.kind == "hf":
            cfg = self.module.config
            side = cfg.image_size // cfg.patch_size
            return side, side
        return tuple(self.vit.patch_embed.grid_size)

    def _timm_attentions(self) -> list:
        """Softmax attention of each block, recomputed from the captured qkv (works with fused SDPA)."""
        maps = []
        for block, qkv in zip(self.vit.blocks, self._qkv, strict=False):
            attn = block.attn
            b, n, _ = qkv.shape
            q, k, _v = qkv.reshape(b, n, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            q, k = attn.q_norm(q), attn.k_norm(k)
            maps.append(torch.softmax((q.float() * attn.scale) @ k.float().transpose(-2, -1), dim=-1))
        return maps


def rollout(attentions: list, prefix_tokens: int, grid: tuple[int, int], discard_ratio: float = 0.0):
    """Attention rollout (Abnar & Zuidema, 2020): average heads, add the residual, multiply through layers;
    the class token's row over the patch tokens (or the mean row without a class token), normalised to
    0..1, shaped N x gh x gw."""
    result = None
    for attn in attentions:
        a = attn.mean(dim=1)
        if discard_ratio > 0:
            flat = a.flatten(1)
            drop = flat.topk(int(flat.shape[1] * discard_ratio), dim=1, largest=False).indices
            flat.scatter_(1, drop, 0)
        eye = torch.eye(a.shape[-1], device=a.device, dtype=a.dtype)
        a = a + eye
        a = a / a.sum(dim=-1, keepdim=True)
        result = a if result is None else a @ result
    # the class token's row; a model without one (global average pooling) reads every token's row
    mask = result[:, 0, prefix_tokens:] if prefix_tokens else result.mean(dim=1)
    mask = mask / mask.amax(dim=1, keepdim=True).clamp_min(1e-8)
    return mask.reshape(mask.shape[0], *grid)


class OnnxClassifier(Classifier):
    """An exported model run by onnxruntime (TensorRT, then CUDA execution providers when present)."""

    backend = "onnx"

    def __init__(self, path: Path, device: str = "auto"):
        import onnxruntime as ort

        folder = path.parent
        meta_path = folder / "preprocess.json"
        labels_path = folder / "labels.txt"
        if not labels_path.is_file():
            raise AppsError(
                f"{labels_path} is missing beside {path.name}",
                hint="export with 'apps export vit --format onnx', which writes labels.txt and preprocess.json",
            )
        meta = (
            json.loads(meta_path.read_text())
            if meta_path.is_file()
            else {"image_size": 224, "mean": [0.5] * 3, "std": [0.5] * 3}
        )
        super().__init__(str(path), read_labels_file(labels_path), meta)
        available = ort.get_available_providers()
        self.path, self.providers = path, ["CPUExecutionProvider"]
        if device != "cpu":
            self.providers = [
                p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available
            ] + self.providers
        self.session = self._open()
        self.device = self.session.get_providers()[0]
        self.dtype = self.session.get_modelmeta().custom_metadata_map.get("precision", "fp32")
        self.input_name = self.session.get_inputs()[0].name
        outputs = self.session.get_outputs()[0].shape
        if isinstance(outputs[-1], int) and outputs[-1] != len(self.labels):
            raise AppsError(
                f"{path.name} has {outputs[-1]} outputs but labels.txt lists {len(self.labels)} classes",
                where=str(labels_path),
            )

    def _open(self, threads: int = 0, spin_wait: bool = True):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads  # 0: onnxruntime's default, one per physical core
        if not spin_wait:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(self.path), options, providers=self.providers)
        except Exception as exc:
            raise AppsError(f"onnxruntime cannot load {self.path}: {exc}") from None

    def use_threads(self, threads: int) -> Callable[[], None]:
        # Thread settings are fixed per session: reopen with them. The default session goes first, so a
        # run holds one copy of the weights (a ViT-B is 350 MB in fp32), and comes back on the next call
        # after the run (most runs end the process instead).
        self.session = None
        self.session = self._open(threads, spin_wait=False)
        return lambda: setattr(self, "session", None)

    def _run(self, batch, attention):
        if self.session is None:
            self.session = self._open()
        logits = self.session.run(None, {self.input_name: batch})[0].astype(np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True), None


# ---- resolving --model ----------------------------------------------------------------------------
def default_model_spec() -> str:
    """What no --model means: the timm default when its weights are cached, else the prepared default
    (or the error that says to run 'apps prepare vit')."""
    if cached_timm_weights(DEFAULT_TIMM_MODEL):
        return DEFAULT_TIMM_MODEL
    return str(require_default("vit", takes=BUILD_TAKES))


def load_classifier(
    model: str | None = None,
    device: str | None = "auto",
    precision: str | None = "auto",
    backend: str = "auto",
) -> Classifier:
    """``--model`` (timm name, HF ViT id, run directory, model folder, .onnx file) -> a Classifier."""
    if model == "default":
        spec = str(require_default("vit", takes=BUILD_TAKES))
    else:
        spec = model or default_model_spec()
    ref = resolve_model(spec, "vit")
    path = ref.path
    if backend == "onnx" and ref.kind in ("run", "folder"):
        path = path / "model.onnx"
    if ref.kind == "onnx" or backend == "onnx":
        if not path.is_file():
            raise AppsError(
                f"ONNX file {path} does not exist", hint="write one with 'apps export vit --format onnx'"
            )
        return OnnxClassifier(path, device or "auto")
    torch_device = resolve_device(device)
    dtype = resolve_dtype(precision, torch_device)
    if ref.kind in ("run", "folder"):
        return _load_folder(path, torch_device, dtype)
    if ref.kind == "file":
        raise AppsError(
            f"{spec} is a single weights file",
            hint="give a run directory, a folder, a .onnx file or a model name",
        )
    if ref.kind == "hub" and "/" in ref.location:  # a Hugging Face hub id such as google/vit-base-patch16-224
        return _load_hf(ref.location, spec, torch_device, dtype)
    vit = create_timm(ref.location, pretrained=True)  # a plain timm model with ImageNet labels
    return TorchClassifier(
        spec, vit, _imagenet_labels(vit), _timm_preprocess(vit), torch_device, dtype, "timm"
    )


def _load_folder(path: Path, device, dtype) -> Classifier:
    if (path / CONFIG_NAME).is_file():
        wrapper = TimmClassifier.from_pretrained(path)
        return TorchClassifier(str(path), wrapper, wrapper.labels, wrapper.preprocess, device, dtype, "timm")
    if (path / "adapter_config.json").is_file():
        return _load_lora_run(path, device, dtype)
    if (path / "config.json").is_file():
        return _load_hf(str(path), str(path), device, dtype)
    if (path / "model.onnx").is_file():
        return OnnxClassifier(path / "model.onnx")
    raise AppsError(
        f"{path} is not a model folder",
        hint=f"expected {CONFIG_NAME} (apps train vit), config.json (transformers) or model.onnx",
    )


def _load_lora_run(path: Path, device, dtype) -> Classifier:
    """A LoRA run directory: the base model rebuilt from its recipe, then the adapter merged in."""
    from peft import PeftModel

    base_dir = path / "base"
    if not (base_dir / CONFIG_NAME).is_file():
        raise AppsError(
            f"{path} holds a LoRA adapter but no base model description ({base_dir / CONFIG_NAME})"
        )
    base = TimmClassifier.from_pretrained(base_dir)
    merged = PeftModel.from_pretrained(base, str(path)).merge_and_unload()
    return TorchClassifier(str(path), merged, base.labels, base.preprocess, device, dtype, "timm")


def _load_hf(spec: str, name: str, device, dtype) -> Classifier:
    from transformers import AutoImageProcessor, ViTForImageClassification

    module = hf_from_pretrained(ViTForImageClassification, spec, "vit", attn_implementation="eager")
    cfg = module.config
    labels = [cfg.id2label[i] for i in range(cfg.num_labels)]
    mean, std = [0.5] * 3, [0.5] * 3
    try:
        processor = hf_from_pretrained(AutoImageProcessor, spec, "vit")
        mean, std = list(processor.image_mean), list(processor.image_std)
    except Exception:
        pass  # ViT checkpoints use 0.5/0.5; keep going offline
    preprocess = {"image_size": cfg.image_size, "mean": mean, "std": std, "crop_pct": 1.0}
    return TorchClassifier(name, module, labels, preprocess, device, dtype, "hf")


def _imagenet_labels(vit) -> list[str]:
    from timm.data import ImageNetInfo

    n = vit.num_classes
    info = ImageNetInfo()
    if n == info.num_classes():
        return [info.index_to_description(i).split(",")[0] for i in range(n)]
    return [str(i) for i in range(n)]


def _timm_preprocess(vit) -> dict:
    cfg = vit.pretrained_cfg
    return {
        "image_size": int(cfg["input_size"][-1]),
        "mean": list(cfg["mean"]),
        "std": list(cfg["std"]),
        "crop_pct": float(cfg.get("crop_pct", 0.9)),
    }
