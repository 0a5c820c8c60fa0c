"""Fine-tuning modes: full, freeze (only the app's trainable modules) or LoRA (peft), and the linear-layer
lookup that resolves LoRA targets."""

from __future__ import annotations

import contextlib
import fnmatch

from core.errors import AppsError
from core.training.parts import TrainingParts

# Last module-name parts that mean "output head": LoRA 'all' leaves them alone (as LLaMA-Factory does).
HEAD_NAMES = ("lm_head", "embed_out", "output_layer", "classifier", "score", "head")


def _linear_types():
    """The layer classes LoRA can adapt: ``nn.Linear``, and GPT-2's ``Conv1D`` when transformers has it."""
    import torch

    types: list[type] = [torch.nn.Linear]
    try:
        from transformers.pytorch_utils import Conv1D  # GPT-2 style "linear" layers

        types.append(Conv1D)
    except ImportError:
        pass
    return tuple(types)


def linear_module_names(model) -> list[str]:
    """Full names of every linear layer (``nn.Linear`` and transformers' ``Conv1D``)."""
    kinds = _linear_types()
    return [name for name, module in model.named_modules() if name and isinstance(module, kinds)]


def _module_matches(name: str, pattern: str) -> bool:
    """peft's rule (the name, or its dotted suffix) plus shell wildcards."""
    return name == pattern or name.endswith("." + pattern) or fnmatch.fnmatchcase(name, pattern)


def _head_names(model) -> set[str]:
    """Names of the output head's modules (the output embeddings, or a leaf named in HEAD_NAMES)."""
    heads = set()
    try:
        output = model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        output = None
    for name, module in model.named_modules():
        if (output is not None and module is output) or name.rsplit(".", 1)[-1] in HEAD_NAMES:
            heads.add(name)
    return heads


def _describe_linears(names: list[str]) -> str:
    """Linear layers by leaf name with their counts, short enough for an error hint."""
    leaves: dict[str, int] = {}
    for name in names:
        leaf = name.rsplit(".", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + 1
    return ", ".join(f"{leaf} (x{count})" if count > 1 else leaf for leaf, count in leaves.items())


def lora_targets(model, targets, keep: list[str]) -> list[str]:
    """Resolve ``lora.target_modules`` into the list handed to peft.

    ``all`` = every linear layer except the output head and the modules kept whole (``keep``); given as
    leaf names (``q_proj``, ``fc1`` ...) when those are unambiguous, else as full names. Any target that
    matches no linear layer is an error listing the model's linear layers."""
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    linears = linear_module_names(model)
    if not linears:
        raise AppsError(
            f"LoRA needs linear layers, and {type(model).__name__} has none", hint="use finetune: full"
        )
    if [t.lower() for t in targets] == ["all"]:
        heads = _head_names(model)
        chosen = [n for n in linears if n not in heads and not any(_module_matches(n, k) for k in keep)]
        if not chosen:
            raise AppsError("LoRA target_modules 'all' found no linear layer besides the output head")
        by_leaf: dict[str, list[str]] = {}
        for name in linears:
            by_leaf.setdefault(name.rsplit(".", 1)[-1], []).append(name)
        leaves = {n.rsplit(".", 1)[-1] for n in chosen}
        if all(set(by_leaf[leaf]) <= set(chosen) for leaf in leaves):
            return sorted(leaves)
        return chosen
    missing = [t for t in targets if not any(_module_matches(n, t) for n in linears)]
    if missing:
        raise AppsError(
            f"LoRA target_modules {', '.join(missing)} match no linear layer of {type(model).__name__}",
            hint=f"its linear layers are: {_describe_linears(linears)}; or use target_modules: all",
        )
    return list(targets)


def apply_lora(model, recipe, keep: list[str]):
    """Wrap ``model`` in a peft LoRA model from ``recipe.lora``; ``keep`` (the app's trainable modules, plus
    the recipe's ``modules_to_save``) train in full beside the adapter and are saved with it."""
    from peft import LoraConfig, get_peft_model

    settings = recipe.lora
    keep = list(dict.fromkeys([*settings.modules_to_save, *keep]))
    missing = [k for k in keep if not any(_module_matches(n, k) for n, _ in model.named_modules())]
    if missing:
        raise AppsError(f"modules to keep trainable beside LoRA not found: {', '.join(missing)}")
    task = "CAUSAL_LM" if type(model).__name__.endswith("ForCausalLM") else None
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=lora_targets(model, settings.target_modules, keep),
        modules_to_save=keep or None,
        task_type=task,
    )
    return get_peft_model(model, config)


def apply_freeze(model, patterns: list[str]):
    """Train only the parameters under modules matching ``patterns``; everything else is frozen."""
    if not patterns:
        raise AppsError(
            "finetune: freeze needs the modules to keep trainable, and this app names none",
            hint="use finetune: full or lora.",
        )
    used = set()
    for name, parameter in model.named_parameters():
        parts = name.split(".")
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts))]
        hit = [p for p in patterns if any(_module_matches(prefix, p) for prefix in prefixes)]
        parameter.requires_grad = bool(hit)
        used.update(hit)
    unused = [p for p in patterns if p not in used]
    if unused:
        children = ", ".join(name for name, _ in model.named_children())
        raise AppsError(
            f"trainable modules {', '.join(unused)} match no module", hint=f"top-level modules: {children}"
        )
    return model


def prepare_model(parts: TrainingParts, recipe, dtype=None):
    """Apply the recipe's fine-tuning mode to the app's model; returns the model to train."""
    import torch

    model = parts.model
    if not isinstance(model, torch.nn.Module):
        raise AppsError(
            f"training_parts returned {type(model).__name__} as the model; expected a torch module"
        )
    if recipe.finetune == "lora":
        model = apply_lora(model, recipe, list(parts.trainable_modules))
        if dtype in (torch.float16, torch.bfloat16):
            # as LLaMA-Factory does: the frozen base in the compute dtype (half the memory), adapters in fp32
            for parameter in model.parameters():
                if not parameter.requires_grad and parameter.is_floating_point():
                    parameter.data = parameter.data.to(dtype)
    elif recipe.finetune == "freeze":
        model = apply_freeze(model, list(parts.trainable_modules))
    # Mixed precision keeps fp32 master weights: a model loaded in half precision trains its trainable
    # parameters in fp32 (fp16 gradients cannot be unscaled).
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype in (torch.float16, torch.bfloat16):
            parameter.data = parameter.data.float()
    if not any(p.requires_grad for p in model.parameters()):
        raise AppsError("the model has no trainable parameter", hint="check finetune and trainable modules")
    if recipe.gradient_checkpointing and recipe.finetune != "full":
        # Reentrant checkpointing (arguments.CHECKPOINTING) passes gradients only through blocks whose
        # input requires one: the frozen embedding's output must (transformers 5 sees to it, 4.57 does not
        # for a peft model).
        with contextlib.suppress(AttributeError, NotImplementedError):  # no input embeddings to mark
            model.enable_input_require_grads()
    return model


def count_parameters(model) -> tuple[int, int]:
    """(total, trainable) parameter counts, each tied (shared) parameter counted once."""
    seen, total, trainable = set(), 0, 0
    for parameter in model.parameters():
        if parameter.data_ptr() in seen:
            continue
        seen.add(parameter.data_ptr())
        total += parameter.numel()
        trainable += parameter.numel() if parameter.requires_grad else 0
    return total, trainable
