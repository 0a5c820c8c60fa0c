"""On a Jetson, keep JetPack's OpenCV (apt's python3-opencv, built with GStreamer, which ``csi://0`` needs)
as the ``cv2`` that is imported: remove the pip OpenCV wheels that ``pip install '.[all]'`` brought.

pip does not count apt's package as OpenCV, and no environment marker tells a Jetson from another aarch64
board, so the extras cannot leave the wheel out there. ``make run``/``make test`` run this after the install
when /etc/nv_tegra_release exists (the venv sees the system site-packages there); on another machine it does
nothing. The wheels are removed only when a GStreamer cv2 outside the venv is there to take over.

``APPS_TEGRA_RELEASE`` names another marker file (tests simulate a Jetson with it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.doctor import cv2_build_flags, opencv_wheels, other_cv2_builds


def main() -> int:
    marker = Path(os.environ.get("APPS_TEGRA_RELEASE", "/etc/nv_tegra_release"))
    if not marker.exists():
        print(f"keep_system_opencv: not a Jetson ({marker} is absent): nothing to do")
        return 0
    wheels = [entry.split()[0] for entry in opencv_wheels()]
    outside = [b for b in other_cv2_builds(None) if not Path(b["path"]).resolve().is_relative_to(Path(sys.prefix).resolve())]
    system = [b for b in outside if b["gstreamer"]]
    if not system:
        print(
            "keep_system_opencv: warning: no GStreamer OpenCV outside the venv (JetPack: sudo apt-get install "
            f"python3-opencv; the venv needs --system-site-packages); keeping {', '.join(wheels) or 'no wheel'}",
            file=sys.stderr,
        )
        return 0
    if wheels:
        print(f"keep_system_opencv: removing {', '.join(wheels)} so that {system[0]['path']} (GStreamer) is imported")
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", *wheels], check=True)
    out = subprocess.run(
        [sys.executable, "-c", "import cv2; print(cv2.__file__); print(cv2.getBuildInformation())"],
        capture_output=True,
        text=True,
        check=True,
    )
    active = out.stdout.splitlines()[0]
    if not cv2_build_flags(out.stdout)["gstreamer"]:
        print(f"keep_system_opencv: error: cv2 still comes from {active}, without GStreamer", file=sys.stderr)
        return 1
    print(f"keep_system_opencv: cv2 is {active} (GStreamer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
