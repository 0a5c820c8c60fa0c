"""Soak the web demo: serve repeated requests for a while and report errors and resident-memory growth.

    python benchmarks/soak_demo.py --minutes 30 [--apps vit,timeseries,control] [--json out.json]

Starts `apps demo APPS` on a free port, measures how long until the page answers, then loops over the
tabs' API endpoints (vit: classify an image, timeseries: forecast a shipped dataset, control: run an expert
episode) through gradio_client, the same calls the page makes. Every minute it samples the server's RSS
(process tree). Needs the offline defaults of vit and timeseries (`apps prepare vit timeseries`).
Goal (trade-show issue): no error responses and RSS growth under 100 MB over 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_rss(pid: int) -> int:
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def digit_image(folder: Path) -> str:
    import cv2
    import numpy as np

    image = np.full((240, 240, 3), 255, np.uint8)
    cv2.putText(image, "3", (60, 200), cv2.FONT_HERSHEY_SIMPLEX, 7, (0, 0, 0), 18)
    path = folder / "three.png"
    cv2.imwrite(str(path), image)
    return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--apps", default="vit,timeseries,control")
    parser.add_argument("--json", help="write the report here too")
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    apps = [a for a in args.apps.split(",") if a]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    start = time.monotonic()
    server = subprocess.Popen([sys.executable, "-m", "core.cli", "demo", *apps, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() - start > 300:
                    raise SystemExit("the demo did not start") from None
                time.sleep(0.2)
        ready = time.monotonic() - start
        client = Client(url, verbose=False)
        folder = Path(tempfile.mkdtemp())
        calls = {
            "vit": lambda: client.predict(handle_file(digit_image(folder)), True, api_name="/classify"),
            "timeseries": lambda: client.predict("co2", None, None, 80, api_name="/forecast"),
            "control": lambda: client.predict("Maze-v0", "expert", 2_000_000 + requests, 100, api_name="/episode"),
        }
        requests, errors, samples = 0, [], [(0.0, tree_rss(server.pid))]
        deadline, next_sample = start + ready + args.minutes * 60, time.monotonic() + 60
        while time.monotonic() < deadline:
            for app in apps:
                try:
                    calls[app]()
                except Exception as exc:  # an error response is a finding, not a crash of the soak
                    errors.append(f"{app}: {exc}")
                requests += 1
            if time.monotonic() >= next_sample:
                samples.append((round((time.monotonic() - start - ready) / 60, 1), tree_rss(server.pid)))
                next_sample += 60
        samples.append((round((time.monotonic() - start - ready) / 60, 1), tree_rss(server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    growth = (samples[-1][1] - samples[1][1] if len(samples) > 2 else samples[-1][1] - samples[0][1]) / 2**20
    report = {"ready_seconds": round(ready, 1), "minutes": args.minutes, "requests": requests,
              "errors": len(errors), "first_errors": errors[:5],
              "rss_mb": [(m, round(r / 2**20, 1)) for m, r in samples],
              "rss_growth_mb_after_first_minute": round(growth, 1)}
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if not errors else 1


if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    sys.exit(main())
