"""Soak the web demo: serve repeated requests for a while and report errors and resident-memory growth.

    python benchmarks/soak_demo.py --minutes 30 [--apps vit,timeseries,control,chat,asr,tts] [--json out.json]

Starts `apps demo APPS` on a free port and measures how long until the page answers over HTTP and until it is
interactive in headless Chromium (its tab buttons shown; skipped without Playwright/chromium). Then it loops
over the tabs' API endpoints (vit: classify an image, timeseries: forecast a shipped dataset, control: run an
expert maze episode, chat: a short answer, asr: transcribe an espeak-ng recording, tts: speak a sentence)
through gradio_client, the same calls the page makes. Every minute it samples the server's RSS (process tree).
Needs the offline defaults of the apps it calls (`apps prepare vit timeseries chat asr tts`).
Goals (trade-show issue): interactive within 10 s, no error responses, RSS growth under 100 MB in 30 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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


def spoken_command(folder: Path) -> str:
    path = folder / "command.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "turn left"], check=True)
    return str(path)


def wait_interactive(url: str, start: float) -> float | None:
    """Seconds from ``start`` until Chromium shows the page's tab buttons, not counting the browser's own
    start (a visitor's browser is already open); None without a browser."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(chromium).exists():
        return None
    with sync_playwright() as playwright:
        launched = time.monotonic()
        browser = playwright.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            browser_start = time.monotonic() - launched
            page.goto(url)
            page.get_by_role("tab").first.wait_for(state="visible", timeout=120_000)
            return time.monotonic() - start - browser_start
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--apps", default="vit,timeseries,control,chat,asr,tts")
    parser.add_argument("--no-browser", dest="browser", action="store_false", help="skip the Chromium measurement")
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
        interactive = wait_interactive(url, start) if args.browser else None
        client = Client(url, verbose=False)
        folder = Path(tempfile.mkdtemp())
        image, speech = digit_image(folder), spoken_command(folder)
        calls = {
            "vit": lambda: client.predict(handle_file(image), True, api_name="/classify"),
            "timeseries": lambda: client.predict("co2", None, None, 80, api_name="/forecast"),
            "control": lambda: client.predict("Maze-v0", "expert", 2_000_000 + requests, 100, api_name="/episode"),
            "chat": lambda: client.predict("你好", [], "default", "", 16, api_name="/chat"),
            "asr": lambda: client.predict(handle_file(speech), api_name="/transcribe"),
            "tts": lambda: client.predict("move forward three", api_name="/speak"),
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
    report = {"ready_seconds": round(ready, 1),
              "interactive_seconds": None if interactive is None else round(interactive, 1), "minutes": args.minutes, "requests": requests,
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
