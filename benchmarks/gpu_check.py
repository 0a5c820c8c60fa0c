"""Exercise the CUDA paths on one NVIDIA GPU in under 5 minutes; skip cleanly without one.

    python benchmarks/gpu_check.py [--json out.json]

Checks, with random weights (nothing is downloaded):
- fp16 and bf16 inference of a ViT-B/16 (timm), batch 8;
- the chat app's load and streaming decode (fp16, bf16) on the full Phi-1.5 architecture, against a bare
  generate on the same model;
- one LoRA training step through transformers.Trainer + peft with mixed precision;
- ONNX export of a ViT from the GPU, run by onnxruntime's CUDA provider (TensorRT when present; skipped,
  saying so, when onnxruntime has no CUDA provider);
- the vit live pipeline against transformers.pipeline on the GPU ('apps bench vit --device cuda', 60
  frames, fp32 and fp16: issue 5's 3x goal);
- 'apps train chat' on that model, three steps at the full sequence length under each Jetson profile:
  phi15-zh-lora-orin-nx (goal: peak below 12 GiB, device and host together), phi15-zh-lora with the Orin
  Nano and the AGX Orin settings; the measured peak beside the engine's estimate.
Prints one line per check and a summary; exit code 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "cuda"  # a CPU run of the same code tests this script without a GPU
sys.path.insert(0, str(ROOT))


def vit_inference(torch, dtype):
    import timm

    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=1000).cuda().eval().to(dtype)
    images = torch.randn(8, 3, 224, 224, device="cuda", dtype=dtype)
    with torch.inference_mode():
        for _ in range(3):  # warm-up: kernel selection
            model(images)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(10):
            logits = model(images)
        torch.cuda.synchronize()
    assert torch.isfinite(logits.float()).all(), "non-finite logits"
    return f"{80 / (time.perf_counter() - start):.0f} images/s at batch 8"


def vit_pipeline(torch, _):
    """apps bench vit --device cuda: end to end against the model alone and against the pipeline peer."""
    from plugins.vit import bench

    # one alternating run: the time of this whole script stays under 5 minutes
    rows = bench.benchmark(frames=60, device="cuda", pairs=1)
    return "; ".join(f"{row['name']} {row['ratio']}" for row in rows if "vs" in row["name"] and "peak" not in row["name"])


def random_phi15(torch, folder: Path) -> str:
    """The full Phi-1.5 architecture (PhiConfig defaults: 1.4B parameters) with random fp16 weights and a
    byte-level BPE tokenizer trained on the shipped Chinese instructions: microsoft/phi-1_5 without a download."""
    from transformers import PhiConfig, PhiForCausalLM

    from plugins.chat.model import train_byte_bpe

    rows = [json.loads(line) for line in (ROOT / "plugins/chat/data/zh_instruct.jsonl").read_text().splitlines()]
    tokenizer = train_byte_bpe("\n".join(r["instruction"] + r["output"] for r in rows), 2000)
    config = PhiConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        model = PhiForCausalLM(config).half()
    with torch.no_grad():  # random weights: keep argmax inside the tokenizer so the text streams
        model.lm_head.bias[len(tokenizer) :] = -1e4
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # Every sample longer than any recipe's cutoff, so each step runs at the full sequence length.
    long = folder / "long_zh.jsonl"
    with long.open("w", encoding="utf-8") as out:
        for i in range(64):
            text = "".join(rows[(i * 20 + j) % len(rows)]["output"] for j in range(40))
            out.write(json.dumps({"instruction": rows[i]["instruction"], "output": text}, ensure_ascii=False) + "\n")
    return str(folder)


def chat_decode(torch, dtype, folder):
    """The chat app's own load and streaming path on CUDA, against a bare generate (bench: >= 0.9x)."""
    from core import dtype_name
    from plugins.chat.bench import measure_decode
    from plugins.chat.model import load_chat_model

    chat = load_chat_model(str(folder), device=DEVICE, precision=dtype_name(dtype))
    assert chat.model.dtype == dtype, f"loaded as {chat.model.dtype}"
    bare, stream = measure_decode(chat, 64, repeat=3)
    return (f"streamed {stream['tps']:.0f} tok/s = {stream['tps'] / bare['tps']:.2f}x bare generate"
            f" ({bare['tps']:.0f}), first token {stream['first'] * 1000:.0f} ms")


def profile_memory(torch, recipe, profile, folder, limit_gib=None):
    """'apps train chat' with a Phi-1.5 recipe on the full architecture for a few steps, in its own process
    (so its peaks are its own): the measured peak against the engine's estimate (and the board's limit)."""
    import subprocess

    run = folder / f"run-{recipe}-{len(list(folder.glob('run-*')))}"
    command = [sys.executable, "-c", "from core.cli import main; main()", "--profile", profile, "train", "chat",
               "--recipe", recipe, "-o", str(run), f"model={folder}", f"dataset={folder / 'long_zh.jsonl'}",
               "eval_dataset=null", "max_steps=3", "logging_steps=1", "save_steps=1000"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    keep = ("device profile", "train:", "measured peak", "Error", "error", "hint", "{'train_runtime'")
    print("\n".join(line for line in (done.stdout + done.stderr).splitlines() if line.startswith(keep)), flush=True)
    assert done.returncode == 0, f"apps train exited with {done.returncode}"
    metrics = json.loads((run / "metrics.json").read_text())
    both = metrics["peak_total_gib"]
    detail = (f"peak host {metrics['peak_host_gib']:.2f} + CUDA {metrics.get('peak_cuda_reserved_gib', 0.0):.2f} GiB"
              f" reserved ({metrics.get('peak_cuda_allocated_gib', 0.0):.2f} allocated) = {both:.2f} GiB; estimate"
              f" {metrics['memory_estimate_gib']:.2f} GiB; loss {metrics.get('train_loss', float('nan')):.3f}")
    if limit_gib is not None:
        assert both < limit_gib, f"{detail}: over the {limit_gib} GiB goal"
        detail += f" < {limit_gib} GiB goal"
    return detail


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
    # Exported from the model on the GPU, as 'apps export vit' does where CUDA is the device.
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False).eval().cuda()
    images = torch.randn(1, 3, 224, 224, device="cuda")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vit.onnx"
        torch.onnx.export(model, (images,), str(path), input_names=["pixels"], output_names=["logits"], dynamo=False)
        session = onnxruntime.InferenceSession(str(path), providers=[*providers, "CPUExecutionProvider"])
        out = session.run(None, {"pixels": images.cpu().numpy()})[0]
    with torch.inference_mode():
        expected = model(images).cpu().numpy()
    error = float(abs(out - expected).max())
    assert error < 1e-2, f"ONNX output differs from torch by {error}"
    detail = f"{session.get_providers()[0]}, max |diff| {error:.1e}"
    if not providers:  # the export ran on CUDA; the runtime half needs onnxruntime-gpu
        raise Skipped(f"{detail}; this onnxruntime has no CUDA provider ({onnxruntime.__version__}:"
                      f" {', '.join(onnxruntime.get_available_providers())}): install onnxruntime-gpu")
    return detail


class Skipped(Exception):
    """A check that could not run its GPU half here; says why."""


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
    folder = Path(tempfile.mkdtemp(prefix="phi15-random-"))
    checks = [(f"vit {d}", vit_inference, (d,)) for d in dtypes]
    checks += [("vit live pipeline vs transformers.pipeline", vit_pipeline, (None,))]
    checks += [("random Phi-1.5 folder", random_phi15, (folder,))]
    checks += [(f"chat decode {d}", chat_decode, (d, folder)) for d in dtypes]
    checks += [(f"lora train step {dtypes[-1]}", lora_step, (dtypes[-1],)),
               ("onnx export + onnxruntime", onnx_cuda, (None,)),
               ("Orin NX 16GB: phi15-zh-lora-orin-nx memory", profile_memory,
                ("phi15-zh-lora-orin-nx", "orin-nx-16gb", folder, 12)),
               ("Orin Nano 8GB profile: phi15-zh-lora memory", profile_memory,
                ("phi15-zh-lora", "orin-nano-8gb", folder)),
               ("AGX Orin 64GB profile: phi15-zh-lora memory", profile_memory, ("phi15-zh-lora", "agx-orin-64gb", folder))]
    results = {}
    for name, check, extra in checks:
        try:
            results[name] = {"ok": True, "detail": check(torch, *extra)}
        except Skipped as exc:
            results[name] = {"ok": None, "detail": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
        state = {True: "PASS", False: "FAIL", None: "SKIP"}[results[name]["ok"]]
        print(f"{state}  {name}: {results[name]['detail']}", flush=True)
        torch.cuda.empty_cache()
    shutil.rmtree(folder, ignore_errors=True)
    passed = sum(r["ok"] is True for r in results.values())
    failed = sum(r["ok"] is False for r in results.values())
    print(f"{passed} passed, {failed} failed, {len(results) - passed - failed} skipped")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
