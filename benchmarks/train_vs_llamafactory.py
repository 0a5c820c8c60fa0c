"""apps train vs llamafactory-cli train: same tiny Phi-architecture model, same alpaca-format data, same LoRA.

Builds (offline) a byte-level BPE tokenizer and a randomly initialised PhiForCausalLM, writes the chat
plugin's Chinese instructions as an alpaca JSON file with LLaMA-Factory's dataset_info.json, then trains
LoRA (rank 8, alpha 16, dropout 0, all linear layers, template 'default', cosine, fp32 on CPU) for the same
number of steps with both tools, each in its own process, and compares the Trainer's train_samples_per_second
and the peak resident memory of the process tree (sampled every 20 ms).

Gradient (activation) checkpointing is matched: LLaMA-Factory checkpoints by default, a recipe here does not,
so ``--checkpointing on`` runs both with it, ``off`` both without (LLaMA-Factory's
``disable_gradient_checkpointing``) and ``both`` (the default) each setting in turn.

LLaMA-Factory must live in its own venv (it pins its own transformers):

    python3 -m venv .venv-llamafactory && .venv-llamafactory/bin/pip install llamafactory

    python benchmarks/train_vs_llamafactory.py                     # 30 steps, batch 2 x accumulation 8
    python benchmarks/train_vs_llamafactory.py --steps 10 --repeats 2 --json out.json
    python benchmarks/train_vs_llamafactory.py --hidden 2048 --layers 24 --steps 3 --batch 1 --accum 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "plugins" / "chat" / "data" / "zh_instruct.jsonl"
EOS = "<|endoftext|>"


def build_inputs(work: Path, model_args: dict) -> tuple[Path, Path]:
    """The alpaca dataset folder and the tiny model folder (tokenizer + random Phi weights); a model built
    before with the same arguments is reused (at Phi-1.5 width it takes minutes and 4.5 GiB)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PhiConfig, PhiForCausalLM, PreTrainedTokenizerFast, set_seed

    data_dir, model_dir = work / "data", work / "model"
    stamp = model_dir / "benchmark_args.json"
    if (
        stamp.exists()
        and json.loads(stamp.read_text()) == model_args
        and (data_dir / "dataset_info.json").exists()
    ):
        return data_dir, model_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    records = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    alpaca = [
        {"instruction": r["instruction"], "input": r.get("input", ""), "output": r["output"]} for r in records
    ]
    (data_dir / "alpaca_zh_mini.json").write_text(json.dumps(alpaca, ensure_ascii=False), encoding="utf-8")
    (data_dir / "dataset_info.json").write_text(
        json.dumps({"alpaca_zh_mini": {"file_name": "alpaca_zh_mini.json"}})
    )

    text = "\n".join(f"Human: {r['instruction']}{r['input']}\nAssistant:{r['output']}" for r in alpaca)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [text],
        vocab_size=model_args["vocab_size"],
        min_frequency=2,
        special_tokens=[EOS],
        show_progress=False,
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS, pad_token=EOS
    )
    tokenizer.model_max_length = 2048
    tokenizer.save_pretrained(model_dir)
    set_seed(0)
    config = PhiConfig(
        vocab_size=len(tokenizer),
        hidden_size=model_args["hidden"],
        intermediate_size=4 * model_args["hidden"],
        num_hidden_layers=model_args["layers"],
        num_attention_heads=model_args["heads"],
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    PhiForCausalLM(config).save_pretrained(model_dir)
    stamp.write_text(json.dumps(model_args))
    return data_dir, model_dir


def monitored(command: list[str], env: dict, log: Path) -> tuple[int, int, float, float]:
    """Run ``command``; returns (exit code, peak RSS of its process tree in bytes, seconds, CPU seconds
    (user + system) of the process and the children it waited for). On a shared machine the CPU seconds
    say more than samples/s, which depend on the CPU share each run got."""
    import resource

    import psutil

    start = time.time()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak, parent = 0, psutil.Process(process.pid)
        stop = threading.Event()

        def sample():
            nonlocal peak
            while not stop.is_set():
                try:
                    tree = [parent, *parent.children(recursive=True)]
                    peak = max(peak, sum(p.memory_info().rss for p in tree))
                except psutil.Error:
                    pass
                stop.wait(0.02)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        code = process.wait()
        stop.set()
        thread.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return code, peak, time.time() - start, round(cpu, 1)


def settings(args) -> dict:
    return {
        "rank": 8,
        "alpha": 16,
        "dropout": 0.0,
        "lr": 5e-5,
        "steps": args.steps,
        "batch": args.batch,
        "accum": args.accum,
        "cutoff": args.cutoff,
        "seed": 42,
        "checkpointing": True,
    }


def run_ours(work: Path, data_dir: Path, model_dir: Path, s: dict, env: dict, tag: str, python: str) -> dict:
    recipe = {
        "description": "benchmark vs LLaMA-Factory",
        "model": str(model_dir),
        "dataset_dir": str(data_dir),
        "dataset": "alpaca_zh_mini",
        "template": "default",
        "finetune": "lora",
        "lora": {"r": s["rank"], "alpha": s["alpha"], "dropout": s["dropout"], "target_modules": "all"},
        "cutoff_len": s["cutoff"],
        "learning_rate": s["lr"],
        "max_steps": s["steps"],
        "batch_size": s["batch"],
        "gradient_accumulation_steps": s["accum"],
        "lr_scheduler": "cosine",
        "precision": "fp32",
        "logging_steps": 5,
        "save_steps": 100000,
        "seed": s["seed"],
        "gradient_checkpointing": s["checkpointing"],
    }
    import yaml

    path = work / "ours.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = work / f"ours-{tag}"
    # a run left by an earlier invocation (LLaMA-Factory overwrites its own output folder)
    shutil.rmtree(out, ignore_errors=True)
    command = [python, "-m", "core.cli", "train", "chat", "-r", str(path), "-o", str(out)]
    code, peak, seconds, cpu = monitored(command, env, work / f"ours-{tag}.log")
    if code != 0:
        raise SystemExit(f"apps train failed ({code}); see {work / f'ours-{tag}.log'}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "samples_per_second": metrics["train_samples_per_second"],
        "peak_rss": peak,
        "wall": seconds,
        "cpu_seconds": cpu,
        "train_loss": metrics.get("train_loss"),
    }


def run_llamafactory(
    cli: Path, work: Path, data_dir: Path, model_dir: Path, s: dict, env: dict, tag: str
) -> dict:
    out = work / f"lf-{tag}"
    config = {
        "model_name_or_path": str(model_dir),
        "trust_remote_code": False,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": s["rank"],
        "lora_alpha": s["alpha"],
        "lora_dropout": s["dropout"],
        "lora_target": "all",
        "dataset": "alpaca_zh_mini",
        "dataset_dir": str(data_dir),
        "template": "default",
        "cutoff_len": s["cutoff"],
        "overwrite_cache": True,
        "preprocessing_num_workers": 1,
        "output_dir": str(out),
        "logging_steps": 5,
        "save_steps": 100000,
        "overwrite_output_dir": True,
        "plot_loss": False,
        "per_device_train_batch_size": s["batch"],
        "gradient_accumulation_steps": s["accum"],
        "learning_rate": s["lr"],
        "max_steps": s["steps"],
        "lr_scheduler_type": "cosine",
        "bf16": False,
        "fp16": False,
        "report_to": "none",
        "seed": s["seed"],
        "dataloader_num_workers": 0,
        "disable_gradient_checkpointing": not s["checkpointing"],
    }
    import yaml

    path = work / "llamafactory.yaml"
    path.write_text(yaml.safe_dump(config))
    code, peak, seconds, cpu = monitored([str(cli), "train", str(path)], env, work / f"lf-{tag}.log")
    if code != 0:
        raise SystemExit(f"llamafactory-cli failed ({code}); see {work / f'lf-{tag}.log'}")
    metrics = json.loads((out / "train_results.json").read_text())
    return {
        "samples_per_second": metrics["train_samples_per_second"],
        "peak_rss": peak,
        "wall": seconds,
        "cpu_seconds": cpu,
        "train_loss": metrics.get("train_loss"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--accum", type=int, default=8)
    parser.add_argument("--cutoff", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument(
        "--repeats", type=int, default=1, help="Alternate the two tools this many times; best of."
    )
    parser.add_argument(
        "--checkpointing",
        choices=("on", "off", "both"),
        default="both",
        help="Gradient checkpointing in both tools: on, off, or each setting in turn (default).",
    )
    parser.add_argument("--venv", default=str(ROOT / ".venv-llamafactory"), help="LLaMA-Factory's venv.")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "out" / "train_vs_llamafactory"))
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument(
        "--same-libraries",
        action="store_true",
        help="Run apps train with LLaMA-Factory's venv python too (its transformers/peft/accelerate), so only "
        "the engines differ.",
    )
    args = parser.parse_args()

    cli = Path(args.venv) / "bin" / "llamafactory-cli"
    if not cli.exists():
        print(
            f"skipped: LLaMA-Factory is not installed ({cli} missing).\n"
            f"Install it in its own venv: python3 -m venv {args.venv} && {args.venv}/bin/pip install llamafactory"
        )
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model_args = {
        "vocab_size": 2048,
        "hidden": args.hidden,
        "layers": args.layers,
        "heads": max(args.hidden // 32, 1),
    }
    data_dir, model_dir = build_inputs(work, model_args)
    s = settings(args)
    # same conditions for both: CPU only, same threads, no network, no version nagging
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "DISABLE_VERSION_CHECK": "1",
        "APPS_RUNS": str(work / "runs"),
        "PYTHONPATH": str(ROOT),
    }
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.checkpointing]
    results = [
        compare(args, work, data_dir, model_dir, {**s, "checkpointing": mode}, env, cli) for mode in modes
    ]
    from core.bench import table

    print(table([row for result in results for row in result["rows"]]))
    print(json.dumps({"model": model_args, "results": results}))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"model": model_args, "results": results}, indent=2))


def compare(args, work: Path, data_dir: Path, model_dir: Path, s: dict, env: dict, cli: Path) -> dict:
    """Both tools at the settings ``s`` (alternated ``args.repeats`` times): their rows and raw runs."""
    from core.bench import normalise

    ours, theirs = [], []
    label = "on" if s["checkpointing"] else "off"
    for repeat in range(args.repeats):
        tag = f"gc{label}-{repeat}"
        python = str(Path(args.venv) / "bin" / "python") if args.same_libraries else sys.executable
        ours.append(run_ours(work, data_dir, model_dir, s, env, tag, python))
        theirs.append(run_llamafactory(cli, work, data_dir, model_dir, s, env, tag))
        print(
            f"checkpointing {label}, repeat {repeat}: ours {ours[-1]}, llamafactory {theirs[-1]}", flush=True
        )
    best_ours = max(ours, key=lambda r: r["samples_per_second"])
    best_theirs = max(theirs, key=lambda r: r["samples_per_second"])
    peer = "llamafactory-cli train"
    name = f"tiny phi LoRA train, gradient checkpointing {label}"
    rows = normalise(
        [
            {
                "name": name,
                "metric": "samples/s",
                "value": best_ours["samples_per_second"],
                "unit": "samples/s",
                "peer": peer,
                "peer_value": best_theirs["samples_per_second"],
                "better": "higher",
            },
            {
                "name": name,
                "metric": "peak RSS",
                "value": round(best_ours["peak_rss"] / 2**20, 1),
                "unit": "MiB",
                "peer": peer,
                "peer_value": round(best_theirs["peak_rss"] / 2**20, 1),
                "better": "lower",
            },
            {
                "name": name,
                "metric": "train loss",
                "value": best_ours["train_loss"],
                "unit": "",
                "peer": peer,
                "peer_value": best_theirs["train_loss"],
            },
        ]
    )
    return {"settings": s, "rows": rows, "ours": ours, "llamafactory": theirs}


if __name__ == "__main__":
    main()
