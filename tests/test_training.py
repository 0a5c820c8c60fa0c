"""The fine-tuning engine on a tiny Phi / BERT model: full, LoRA, freeze, run directory, dry run,
memory refusal, plugin stop, a real kill + resume, and 2-process torchrun."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import cli
from core.errors import AppsError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny_plugin(tmp_path, monkeypatch):
    """The tiny test app (tests/tiny_app.py) installed as a plugin, for this process and subprocesses."""
    import tiny_app

    yield tiny_app.install(tmp_path, monkeypatch)
    from core.plugins import reset_manager

    reset_manager()


FAST = ["max_steps=6", "save_steps=3", "eval_steps=3", "logging_steps=2"]


def train(*args):
    result = CliRunner().invoke(cli, ["train", "tiny", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result


def test_full_finetune_writes_the_whole_run_directory(tiny_plugin, tmp_path):
    run = tmp_path / "run-full"
    train("-r", "tiny-lm", *FAST, "--note", "hello", "-o", str(run))

    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["global_step"] == 6
    assert info["app"] == "tiny" and info["finetune"] == "full" and info["note"] == "hello"
    assert info["versions"]["transformers"]
    assert "max_steps: 6" in (run / "recipe.yaml").read_text()

    rows = [json.loads(line) for line in (run / "trainer_log.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == [2, 4, 6]
    for key in ("step", "loss", "lr", "epoch", "elapsed", "remaining", "samples_per_second"):
        assert train_rows[-1][key] is not None, key
    assert train_rows[-1]["remaining"] == 0
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]
    assert any("eval_loss" in r for r in rows)

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["global_step"] == 6 and "eval_loss" in metrics and "train_loss" in metrics
    # measured beside the estimate: a CPU run has host memory only (torch alone holds well over 50 MB)
    assert 0.05 < metrics["peak_host_gib"] == metrics["peak_total_gib"] and metrics["memory_estimate_gib"] > 0
    assert "peak_cuda_reserved_gib" not in metrics
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((run / "tiny.json").read_text())["kind"] == "lm"
    assert not list(run.glob(".*tmp*")), "temporary files left behind"
    assert all((folder / ".complete").is_file() for folder in run.glob("checkpoint-*"))

    from transformers import PhiForCausalLM

    from core import is_run_dir, load_run

    assert is_run_dir(run) and not is_run_dir(tmp_path)
    assert load_run(run)["run_dir"] == str(run)
    model = PhiForCausalLM.from_pretrained(run)
    assert model.config.hidden_size == 32


def test_lora_all_targets_every_linear_but_the_head(tiny_plugin, tmp_path):
    import torch
    from tiny_app import tiny_model
    from transformers import set_seed

    from core import load_trained_model

    run = tmp_path / "run-lora"
    train("-r", "tiny-lora", "max_steps=4", "logging_steps=2", "-o", str(run))
    config = json.loads((run / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == ["dense", "fc1", "fc2", "k_proj", "q_proj", "v_proj"]
    assert config["r"] == 4 and config["lora_alpha"] == 8
    assert (run / "adapter_model.safetensors").is_file() and not (run / "model.safetensors").exists()

    def load_base(name):
        assert name == "tiny-random"
        set_seed(42)
        return tiny_model("lm")

    model = load_trained_model(run, load_base)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b), "LoRA B matrices stayed at their zero init"
    merged = load_trained_model(run, load_base, merge=True)
    ids = torch.arange(8).unsqueeze(0)
    assert torch.allclose(model(input_ids=ids).logits, merged(input_ids=ids).logits, atol=1e-5)


def test_lora_with_activation_checkpointing_trains_every_layer(tiny_plugin, tmp_path):
    from safetensors.torch import load_file

    run = tmp_path / "run-checkpointed"
    train("-r", "tiny-lora", "max_steps=3", "gradient_checkpointing=true", "-o", str(run))
    lora_b = {n: w for n, w in load_file(run / "adapter_model.safetensors").items() if "lora_B" in n}
    # reentrant checkpointing passes no gradient through a block whose inputs do not require one
    stuck = [n for n, w in lora_b.items() if not w.abs().sum() > 0]
    assert lora_b and not stuck, f"LoRA B matrices left at their zero init: {stuck}"


def test_lora_target_that_matches_nothing_lists_linear_layers(tiny_plugin, tmp_path):
    with pytest.raises(AppsError) as error:
        train("-r", "tiny-lora", "lora.target_modules=[q_proj, qkv]", "-o", str(tmp_path / "bad"))
    text = str(error.value)
    assert "qkv" in text and "q_proj" in text and "fc1" in text and "lm_head" in text
    assert not (tmp_path / "bad").exists()


def test_freeze_trains_only_the_head(tiny_plugin, tmp_path):
    from safetensors.torch import load_file
    from tiny_app import tiny_model
    from transformers import set_seed

    run = tmp_path / "run-freeze"
    train("-r", "tiny-freeze", "max_steps=4", "eval_steps=4", "-o", str(run))
    set_seed(42)
    initial = tiny_model("classify").state_dict()
    trained = load_file(run / "model.safetensors")
    changed = {k for k, v in trained.items() if not v.equal(initial[k])}
    assert changed and all(k.startswith("classifier.") for k in changed), changed
    assert "eval_accuracy" in json.loads((run / "metrics.json").read_text())


def test_dry_run_prints_parameters_and_memory(tiny_plugin, tmp_path):
    run = tmp_path / "never"
    full = train("-r", "tiny-lm", "--dry-run", "-o", str(run)).output
    assert "parameters: 21,184 total, 21,184 trainable" in full
    assert "peak memory estimate" in full and "activations" in full and "sequence length 16" in full
    lora = train("-r", "tiny-lora", "--dry-run", "-o", str(run)).output
    trainable = int(lora.split("total, ")[1].split(" trainable")[0].replace(",", ""))
    assert 0 < trainable < 21_184
    assert not run.exists()


def test_memory_estimate_grows_with_batch_and_shrinks_with_checkpointing(tiny_plugin):
    from core.plugins import get_manager
    from core.recipes import load_recipe
    from core.training.finetune import prepare_model
    from core.training.memory import estimate_memory

    app = get_manager().app("tiny")

    def estimate(dtype_name="fp32", **overrides):
        import torch

        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
        recipe = load_recipe(app.recipe_class, None, {"seq_len": 48, **overrides})
        parts = app.training_parts(recipe)
        return estimate_memory(prepare_model(parts, recipe, dtype), parts, recipe, torch.device("cpu"), dtype)

    small, large = estimate(batch_size=2), estimate(batch_size=8)
    assert large.activations == 4 * small.activations > 0
    assert large.optimizer == 2 * large.gradients == 2 * 21_184 * 4
    checkpointed = estimate(batch_size=8, gradient_checkpointing=True)
    assert checkpointed.activations < large.activations
    lora32, lora16 = estimate(finetune="lora"), estimate("bf16", finetune="lora")
    assert lora16.trainable_params == lora32.trainable_params < 21_184
    assert lora16.gradients == lora32.gradients, "adapters stay fp32"
    frozen = lora16.total_params - lora16.trainable_params
    assert lora16.weights == frozen * 2 + lora16.trainable_params * 4, "the frozen base is kept in bf16"
    assert lora32.weights == lora32.total_params * 4


def test_activation_probe_counts_what_backward_keeps_and_then_frees_it():
    import weakref

    import torch

    from core.training.memory import _measure_activations

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up, self.down, self.hidden = torch.nn.Linear(16, 64), torch.nn.Linear(64, 16), []

        def forward(self, x):
            hidden = torch.tanh(self.up(x))  # tanh keeps its own output: a tensor that points to its node
            self.hidden.append(weakref.ref(hidden))
            return torch.tanh(self.down(hidden))

    net = Net()
    saved = _measure_activations(net, {"x": torch.randn(8, 16)}, torch.device("cpu"), torch.float32)
    # x (for up's weight gradient), the hidden layer (tanh's output, also down's input), the output; fp32
    assert saved == 8 * (16 + 64 + 16) * 4
    assert net.hidden[0]() is None, "the probe left an activation alive"


def test_activation_probe_counts_a_freed_address_used_again():
    """The probe keeps no activation, so the allocator may hand a freed activation's address to the next one;
    backward would keep both, and both are counted."""
    import torch

    from core.training.memory import _measure_activations, probe_heap

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.addresses = torch.nn.Linear(256, 256), []

        def forward(self, x):
            total = 0
            for _ in range(3):
                hidden = torch.tanh(self.lin(x))  # tanh saves its output; the next one may reuse its memory
                self.addresses.append(hidden.data_ptr())
                total = total + hidden.sum()
                del hidden
            return total

    net = Net()
    with probe_heap():  # 1 MiB blocks are mapped and unmapped: glibc hands the same address out again
        saved = _measure_activations(net, {"x": torch.randn(1024, 256)}, torch.device("cpu"), torch.float32)
    assert saved == 1024 * 256 * 4 * 4  # x (for the weight gradient) + three tanh outputs, each counted


def test_training_refuses_when_memory_does_not_fit(tiny_plugin, tmp_path, monkeypatch):
    import core.training.memory

    monkeypatch.setattr(core.training.memory, "_free_memory", lambda device, resident: 1024)
    with pytest.raises(AppsError) as error:
        train("-r", "tiny-lm", "-o", str(tmp_path / "oom"))
    assert "gradient_checkpointing" in error.value.hint and "batch_size" in error.value.hint
    assert not (tmp_path / "oom").exists()


def test_plugin_can_stop_training(tiny_plugin, tmp_path):
    import types

    from core import hookimpl
    from core.plugins import get_manager

    events = []

    @hookimpl
    def on_train_event(event, state):
        events.append((event, state["step"]))
        return event == "log" and state["step"] >= 4

    get_manager().pm.register(types.SimpleNamespace(on_train_event=on_train_event), name="stopper")
    run = tmp_path / "stopped"
    train("-r", "tiny-lm", "max_steps=30", "logging_steps=2", "-o", str(run))
    assert json.loads((run / "run.json").read_text())["global_step"] == 4
    assert (run / "checkpoint-4" / ".complete").is_file(), "a stop request saves a final checkpoint"
    assert events[0] == ("train_begin", 0) and ("train_end", 4) in events
    assert {"log", "evaluate", "save"} <= {event for event, _ in events}


def test_checkpoints_come_every_save_minutes_whatever_save_steps_says(tiny_plugin, tmp_path):
    settings = ["max_steps=6", "logging_steps=2", "save_steps=100000", "save_total_limit=5"]
    run, untimed = tmp_path / "timed", tmp_path / "untimed"
    train("-r", "tiny-lm", *settings, "save_minutes=1.0e-6", "-o", str(run))  # due at every log step
    assert all((run / f"checkpoint-{step}" / ".complete").is_file() for step in (2, 4, 6))
    train("-r", "tiny-lm", *settings, "save_minutes=0", "-o", str(untimed))
    assert [path.name for path in untimed.glob("checkpoint-*")] == ["checkpoint-6"]  # the last step only


def test_group_by_length_gives_the_length_grouped_sampler(tiny_plugin, tmp_path, monkeypatch):
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    samplers, original = [], Trainer._get_train_sampler

    def spy(self, *args, **kwargs):
        samplers.append(original(self, *args, **kwargs))
        return samplers[-1]

    monkeypatch.setattr(Trainer, "_get_train_sampler", spy)
    train("-r", "tiny-lm", "max_steps=2", "group_by_length=true", "-o", str(tmp_path / "grouped"))
    train("-r", "tiny-lm", "max_steps=2", "-o", str(tmp_path / "plain"))
    assert [type(s) is LengthGroupedSampler for s in samplers] == [True, False]


def test_group_by_length_takes_a_datasets_own_lengths_without_loading_items(tmp_path):
    import torch
    from transformers import TrainingArguments
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from core.training.engine import _trainer_class

    class Utterances(torch.utils.data.Dataset):  # as the asr app's: loading an item would augment it
        lengths = [1.0 + (i % 2) * 8 + i / 100 for i in range(64)]  # short and long, alternating

        def __len__(self):
            return len(self.lengths)

        def __getitem__(self, index):
            raise AssertionError("lengths come from .lengths: no item is loaded to measure it")

    new = "train_sampling_strategy" in TrainingArguments.__dataclass_fields__  # transformers 5
    grouped = {"train_sampling_strategy": "group_by_length"} if new else {"group_by_length": True}
    args = TrainingArguments(
        str(tmp_path), per_device_train_batch_size=2, per_device_eval_batch_size=2, use_cpu=True, **grouped
    )
    trainer = _trainer_class()(model=torch.nn.Linear(1, 1), args=args, train_dataset=Utterances())
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, LengthGroupedSampler) and sampler.lengths == Utterances.lengths
    order = [Utterances.lengths[i] for i in sampler]
    pairs = [sorted(order[k : k + 2]) for k in range(0, len(order), 2)]  # the batches of 2
    mixed = sum(long - short > 4 for short, long in pairs)  # random pairs: about 16 of 32
    assert mixed <= 4  # short with short, long with long: one mixed pair at most per megabatch (of 16)
    assert isinstance(trainer._get_eval_sampler(Utterances()), LengthGroupedSampler)


def test_existing_run_needs_resume(tiny_plugin, tmp_path):
    run = tmp_path / "taken"
    run.mkdir()
    (run / "run.json").write_text("{}")
    with pytest.raises(AppsError, match="--resume"):
        train("-r", "tiny-lm", "-o", str(run))


def _apps(*args):
    return [sys.executable, "-m", "core.cli", *args]


def test_real_kill_then_resume_completes_and_no_checkpoint_is_corrupt(tiny_plugin, tmp_path):
    """SIGKILL a training subprocess after it wrote checkpoints, add a torn checkpoint as a kill in the
    middle of saving would leave it, resume: the run ends at max_steps and every checkpoint loads."""
    run = tmp_path / "killed"
    args = [
        "train",
        "tiny",
        "-r",
        "tiny-lm",
        "max_steps=24",
        "save_steps=4",
        "save_total_limit=10",
        "logging_steps=2",
        "-o",
        str(run),
    ]
    process = subprocess.Popen(
        [*_apps(*args), "step_delay=0.3"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    try:
        while not (run / "checkpoint-8" / ".complete").exists():
            assert process.poll() is None, process.stderr.read()
            assert time.time() < deadline, "no checkpoint-8 in time"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    last = max(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    assert last < 24
    # a checkpoint torn while saving: weights truncated, no completion mark
    torn = run / f"checkpoint-{last + 4}"
    shutil.copytree(run / f"checkpoint-{last}", torn)
    (torn / ".complete").unlink()
    data = (torn / "model.safetensors").read_bytes()
    (torn / "model.safetensors").write_bytes(data[: len(data) // 2])

    resumed = subprocess.run(_apps(*args, "--resume"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"skipping {torn.name}" in resumed.stderr
    assert f"resuming from {run / f'checkpoint-{last}'}" in resumed.stdout

    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "complete" and info["global_step"] == 24
    steps = [json.loads(line)["step"] for line in (run / "trainer_log.jsonl").read_text().splitlines()]
    train_steps = [s for s in steps if s]
    assert train_steps == sorted(train_steps) and train_steps[-1] == 24

    import torch
    from safetensors.torch import load_file

    from core.rundir import checkpoint_problem

    folders = sorted(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert folders[-1].name == "checkpoint-24"
    for folder in folders:
        assert checkpoint_problem(folder) is None, folder
        assert load_file(folder / "model.safetensors")
        torch.load(folder / "optimizer.pt", weights_only=True)
        assert json.loads((folder / "trainer_state.json").read_text())["global_step"] == int(folder.name[11:])


def test_torchrun_two_processes_write_one_run(tiny_plugin, tmp_path):
    pytest.importorskip("torch.distributed.run")
    runs = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "core.cli",
        "train",
        "tiny",
        "-r",
        "tiny-lm",
        "max_steps=4",
        "logging_steps=2",
        "save_steps=2",
        "eval_steps=4",
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = [p for p in runs.iterdir()]
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["global_step"] == 4 and info["status"] == "complete"
    assert (run / "checkpoint-2" / "rng_state_1.pth").is_file(), "rank 1 did not take part"
    rows = [json.loads(line) for line in (run / "trainer_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [2, 4], "only rank 0 writes the log"


def test_early_stopping_with_gradient_checkpointing(tiny_plugin, tmp_path):
    run = tmp_path / "early"
    args = [
        "learning_rate=0.0",
        "max_steps=40",
        "eval_steps=2",
        "logging_steps=2",
        "early_stopping_patience=1",
        "gradient_checkpointing=true",
        "warmup_ratio=0",
    ]
    train("-r", "tiny-lm", *args, "-o", str(run))
    info = json.loads((run / "run.json").read_text())
    assert info["global_step"] == 4, (
        "eval loss never improves at lr 0: patience 1 stops at the 2nd evaluation"
    )
