"""``apps doctor``: what this machine is and what each app can do on it.

Every probe of the file system goes through ``root`` so that tests can replay recorded Jetson and PC
files (``tests/fixtures/doctor/<board>/``). Probes never raise: a missing tool is reported as missing.
"""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path

from core.machine import device_tree_model, meminfo, read_file
from core.profiles import jetson_profile

# Present when JetPack's Argus stack (CSI cameras through nvarguscamerasrc) is installed.
ARGUS_LIBRARIES = (
    "usr/lib/aarch64-linux-gnu/gstreamer-1.0/libgstnvarguscamerasrc.so",
    "usr/lib/aarch64-linux-gnu/nvidia/libnvargus.so",
    "usr/lib/aarch64-linux-gnu/tegra/libnvargus.so",
)


def l4t_release(root: Path) -> str | None:
    """'36.3.0' from /etc/nv_tegra_release ('# R36 (release), REVISION: 3.0, ...')."""
    match = re.search(r"R(\d+) \(release\), REVISION: ([\d.]+)", read_file(root, "/etc/nv_tegra_release"))
    return f"{match.group(1)}.{match.group(2)}" if match else None


def power_mode(root: Path) -> str | None:
    """The nvpmodel power mode: from ``nvpmodel -q`` on a live board, else its status file."""
    if root == Path("/") and shutil.which("nvpmodel"):
        try:
            out = subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=5).stdout
            match = re.search(r"NV Power Mode:\s*(\S+)", out)
            if match:
                return match.group(1)
        except (OSError, subprocess.SubprocessError):
            pass
    match = re.search(r"pmode:(\d+)", read_file(root, "/var/lib/nvpmodel/status"))
    return f"mode {int(match.group(1))}" if match else None


def cameras(root: Path) -> list[str]:
    return sorted(str(Path("/dev") / p.name) for p in (root / "dev").glob("video*"))


def audio_cards(root: Path) -> list[str]:
    cards = []
    for line in read_file(root, "/proc/asound/cards").splitlines():
        match = re.match(r"\s*\d+ \[[^\]]*\]:\s*\S+ - (.+)", line)  # " 0 [PCH ]: HDA-Intel - HDA Intel PCH"
        if match:
            cards.append(match.group(1).strip())
    return cards


OPENCV_WHEELS = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")


def opencv_wheels() -> list[str]:
    """The pip OpenCV distributions installed here (JetPack's apt python3-opencv is none of them)."""
    from importlib import metadata

    found = []
    for name in OPENCV_WHEELS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return found


def cv2_build_flags(build: str) -> dict:
    gstreamer = re.search(r"GStreamer:\s*(\w+)", build)
    gui = re.search(r"GUI:\s*(\S+)", build)
    return {
        "gstreamer": bool(gstreamer and gstreamer.group(1) == "YES"),
        "gui": gui.group(1) if gui and gui.group(1).upper() != "NONE" else None,
    }


def other_cv2_builds(active: Path | None) -> list[dict]:
    """Every cv2 on sys.path but ``active`` (a folder), e.g. JetPack's GStreamer build hidden behind a pip
    wheel; each probed in a subprocess with its folder first on the path."""
    import sys

    found = []
    for entry in dict.fromkeys(sys.path):
        folder = Path(entry or ".")
        candidates = [folder / "cv2"] if (folder / "cv2").is_dir() else list(folder.glob("cv2*.so"))
        for candidate in candidates:
            if active is not None and candidate.resolve() == active.resolve():
                continue
            code = f"import sys; sys.path.insert(0, {str(folder)!r}); import cv2; print(cv2.getBuildInformation())"
            try:
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.SubprocessError):
                continue
            if out.returncode == 0:
                found.append({"path": str(candidate), **cv2_build_flags(out.stdout)})
    return found


def opencv_info() -> dict:
    """The cv2 that is imported: where from, which pip wheel, GUI and GStreamer; a warning when a pip wheel
    hides a GStreamer build (on a Jetson, JetPack's, which csi:// needs)."""
    if importlib.util.find_spec("cv2") is None:
        return {"installed": False, "gstreamer": False, "gui": None, "wheels": opencv_wheels()}
    import cv2

    active = Path(cv2.__file__).parent
    info = {"installed": True, "version": cv2.__version__, "path": str(active), "wheels": opencv_wheels()}
    info.update(cv2_build_flags(cv2.getBuildInformation()))
    info["hidden_gstreamer"] = [] if info["gstreamer"] else [
        b["path"] for b in other_cv2_builds(active) if b["gstreamer"]
    ]  # fmt: skip
    if info["hidden_gstreamer"]:
        info["warning"] = (
            f"the pip wheel ({', '.join(info['wheels']) or 'cv2 at ' + str(active)}) hides the GStreamer OpenCV "
            f"at {info['hidden_gstreamer'][0]}: pip uninstall -y {' '.join(OPENCV_WHEELS)}"
        )
    return info


def torch_info() -> dict:
    if importlib.util.find_spec("torch") is None:
        return {"installed": False}
    import torch

    from core.device import cpu_has_bf16

    info = {
        "installed": True,
        "version": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_bf16": cpu_has_bf16(),
        "threads": torch.get_num_threads(),
    }
    if info["cuda_available"]:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1),
                    bf16=torch.cuda.is_bf16_supported())
    return info


def tensorrt_version() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return None
    import tensorrt

    return tensorrt.__version__


def onnxruntime_providers() -> list[str]:
    if importlib.util.find_spec("onnxruntime") is None:
        return []
    import onnxruntime

    return onnxruntime.get_available_providers()


def app_readiness(torch: dict) -> dict:
    """For each app: whether it can run here and with which precision by default."""
    from core.plugins import get_manager

    if not torch.get("installed"):
        precision = None
    elif torch.get("cuda_available"):
        precision = "bf16" if torch.get("bf16") else "fp16"
    else:
        precision = "bf16" if torch.get("cpu_bf16") else "fp32"
    apps = {}
    for name, app_class in get_manager().apps().items():
        verbs = [verb for verb in ("run", "train", "eval") if app_class.offers(verb)]
        apps[name] = {"can_run": bool(precision) and "run" in verbs, "precision": precision, "verbs": verbs}
    return apps


def report(root: Path = Path("/"), probe_software: bool = True) -> dict:
    """The whole report as a dict. ``probe_software=False`` skips this interpreter's packages (fixtures)."""

    mem = meminfo(root)
    model = device_tree_model(root)
    memory_gb = round(mem.get("MemTotal", 0) / 2**20, 1)
    data = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "jetson": {
            "model": model or None,
            "l4t": l4t_release(root),
            "power_mode": power_mode(root),
            "profile": jetson_profile(model, memory_gb) if model else None,
        },
        "memory_gb": memory_gb,
        "swap_gb": round(mem.get("SwapTotal", 0) / 2**20, 1),
        "cameras": cameras(root),
        "csi_camera": any((root / path).exists() for path in ARGUS_LIBRARIES),
        "audio": audio_cards(root),
        "espeak_ng": shutil.which("espeak-ng") is not None,
    }
    if probe_software:
        data["torch"] = torch_info()
        data["tensorrt"] = tensorrt_version()
        data["onnxruntime_providers"] = onnxruntime_providers()
        data["opencv"] = opencv_info()
        data["apps"] = app_readiness(data["torch"])
    return data


def format_report(data: dict) -> str:
    lines = [f"Python        {data['python']} ({data['machine']})"]
    jetson = data["jetson"]
    if jetson["model"]:
        lines.append(f"Jetson        {jetson['model']}, L4T {jetson['l4t'] or '?'}, power {jetson['power_mode'] or '?'}")
        lines.append(f"profile       {jetson['profile']}")
    else:
        lines.append("Jetson        no (a PC)")
    lines.append(f"memory        {data['memory_gb']} GB, swap {data['swap_gb']} GB")
    torch = data.get("torch", {})
    if torch.get("installed"):
        gpu = f"CUDA {torch['cuda']}, cuDNN {torch['cudnn']}, {torch.get('gpu')}" if torch["cuda_available"] else "no CUDA"
        lines.append(f"torch         {torch['version']} ({gpu}); CPU bf16: {'yes' if torch['cpu_bf16'] else 'no'}")
    elif "torch" in data:
        lines.append("torch         not installed (pip install torch, or JetPack's wheel on a Jetson)")
    if "tensorrt" in data:
        lines.append(f"TensorRT      {data['tensorrt'] or 'not installed'}")
        lines.append(f"onnxruntime   {', '.join(data['onnxruntime_providers']) or 'not installed'}")
        cv = data["opencv"]
        if cv["installed"]:
            lines.append(
                f"OpenCV        {cv['version']} at {cv['path']} ({', '.join(cv['wheels']) or 'not a pip wheel'}); "
                f"GUI: {cv['gui'] or 'none (no window)'}; GStreamer: {'yes' if cv['gstreamer'] else 'no'}"
            )
        else:
            lines.append("OpenCV        not installed")
        if cv.get("warning"):
            lines.append(f"  warning: {cv['warning']}")
    lines.append(f"cameras       {', '.join(data['cameras']) or 'none'}; CSI: {'yes' if data['csi_camera'] else 'no'}")
    lines.append(f"audio         {', '.join(data['audio']) or 'none'}")
    lines.append(f"espeak-ng     {'yes' if data['espeak_ng'] else 'no (apt-get install espeak-ng)'}")
    for name, app in data.get("apps", {}).items():
        state = f"ready, {app['precision']}" if app["can_run"] else "not ready"
        lines.append(f"app {name:<10} {state}; verbs: {', '.join(app['verbs']) or '-'}")
    return "\n".join(lines)
