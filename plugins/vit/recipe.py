"""The vit app's training recipe: the settings ``apps train vit`` validates (light: no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from core import Recipe


@dataclass
class VitRecipe(Recipe):
    """Settings of a vit training run (besides the common ones of core.recipes.Recipe).

    ``model`` is a timm architecture (``vit_tiny_patch16_224``); ``model_args`` override its layout
    (img_size, patch_size, embed_dim, depth, num_heads ...); ``dataset`` is a registered dataset name
    (``digits-shapes``) or an ImageFolder path with train/ and val/.
    """

    model: Union[str, None] = "vit_tiny_patch16_224"  # noqa: UP007
    dataset: Union[str, None] = "digits-shapes"  # noqa: UP007
    model_args: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = False  # start from the timm weights (needs them cached or a network)
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    crop_pct: float = 1.0
    augment: float = 1.0  # strength of the OpenCV augmentation (0 = none)
    label_smoothing: float = 0.0
    scenes: dict[str, Any] = field(
        default_factory=dict
    )  # camera-scenes options: per_class, heldout_per_class, fresh, none_repeat (fresh training scenes only)
