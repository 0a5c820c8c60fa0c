"""Exercise the CUDA paths on one NVIDIA GPU in under 5 minutes; skip cleanly without one.

    python benchmarks/gpu_check.py [--json out.json]

Checks: fp16 and bf16 inference of a ViT-B/16 (timm) and of a Phi-architecture causal LM with the same
device/precision choice the apps use, one LoRA training step through transformers.Trainer + peft with
mixed precision, and ONNX export of the ViT run by onnxruntime's CUDA provider (TensorRT when present).
Random weights: nothing is downloaded. Prints one line per check and a summary; exit code 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def vit_inference(torch, dtype):
    import timm

    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=1000).cuda().eval().to(dtype)
    images = torch.randn(8, 3, 224, 224, device="cuda", dtype=dtype)
    with torch.inference_mode():
        model(images)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(10):
            logits = model(images)
        torch.cuda.synchronize()
    assert torch.isfinite(logits.float()).all(), "non-finite logits"
    return f"{80 / (time.perf_counter() - start):.0f} images/s at batch 8"


def phi_decode(torch, dtype):
    from transformers import PhiConfig, PhiForCausalLM

    config = PhiConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=8, num_attention_heads=16,
                       vocab_size=51200)
    model = PhiForCausalLM(config).cuda().eval().to(dtype)
    prompt = torch.randint(0, config.vocab_size, (1, 32), device="cuda")
    with torch.inference_mode():
        model.generate(prompt, max_new_tokens=4, do_sample=False)
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = model.generate(prompt, max_new_tokens=64, min_new_tokens=64, do_sample=False)
        torch.cuda.synchronize()
    return f"{(out.shape[1] - 32) / (time.perf_counter() - start):.0f} tokens/s"


def lora_step(torch, dtype):
    from peft import LoraConfig, get_peft_model
    from transformers import PhiConfig, PhiForCausalLM, Trainer, TrainingArguments

    config = PhiConfig(hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                       vocab_size=1024)
    model = get_peft_model(PhiForCausalLM(config), LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    data = [{"input_ids": torch.randint(0, 1024, (64,)), "labels": torch.randint(0, 1024, (64,))} for _ in range(8)]
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(out, max_steps=2, per_device_train_batch_size=4, report_to=[], save_strategy="no",
                                 fp16=dtype == torch.float16, bf16=dtype == torch.bfloat16, logging_steps=1)
        result = Trainer(model=model, args=args, train_dataset=data).train()
    assert result.global_step == 2 and result.training_loss == result.training_loss, "no loss"
    return f"loss {result.training_loss:.3f}"


def onnx_cuda(torch, dtype):
    import onnxruntime
    import timm

    providers = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider")
                 if p in onnxruntime.get_available_providers()]
    if not providers:
        raise RuntimeError(f"onnxruntime has no CUDA provider: {onnxruntime.get_available_providers()}")
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False).eval()
    images = torch.randn(1, 3, 224, 224)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vit.onnx"
        torch.onnx.export(model, (images,), str(path), input_names=["pixels"], output_names=["logits"], dynamo=False)
        session = onnxruntime.InferenceSession(str(path), providers=[*providers, "CPUExecutionProvider"])
        out = session.run(None, {"pixels": images.numpy()})[0]
    expected = model(images).detach().numpy()
    error = float(abs(out - expected).max())
    assert error < 1e-2, f"ONNX output differs from torch by {error}"
    return f"{session.get_providers()[0]}, max |diff| {error:.1e}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("skipped: no CUDA GPU here (torch.cuda.is_available() is False)")
        return 0
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    dtypes = [torch.float16] + ([torch.bfloat16] if torch.cuda.is_bf16_supported() else [])
    checks = [(f"vit {d}", vit_inference, d) for d in dtypes] + [(f"phi decode {d}", phi_decode, d) for d in dtypes]
    checks += [(f"lora train step {dtypes[-1]}", lora_step, dtypes[-1]), ("onnx export + onnxruntime", onnx_cuda, None)]
    results = {}
    for name, check, dtype in checks:
        try:
            results[name] = {"ok": True, "detail": check(torch, dtype)}
        except Exception as exc:
            traceback.print_exc()
            results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
        print(f"{'PASS' if results[name]['ok'] else 'FAIL'}  {name}: {results[name]['detail']}", flush=True)
        torch.cuda.empty_cache()
    passed = sum(r["ok"] for r in results.values())
    print(f"{passed} passed, {len(results) - passed} failed")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
