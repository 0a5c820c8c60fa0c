"""``apps collect vit --camera 0 --label cup``: save frames into an ImageFolder dataset.

Frames go to DATA/train/LABEL/ and, for ``--val-fraction`` of them, DATA/val/LABEL/; labels.txt gains the
label. The preview window (when there is a display) shows a countdown; ESC or q stops early.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from core import AppsError, WindowSink, draw_banner, draw_crop_box, has_display, open_source
from plugins.vit.data import read_labels_file, write_labels_file
from plugins.vit.live import choose_source


def collect(
    label,
    data="data/vit",
    count=50,
    interval=0.2,
    val_fraction=0.15,
    camera=None,
    source=None,
    loop=False,
    width=None,
    height=None,
    headless=False,
    **_ignored,
) -> dict:
    import cv2

    name = label.strip()
    if not name or any(c in name for c in "/\\") or name in (".", ".."):
        raise AppsError(f"'{label}' cannot be a class folder name", hint="use letters, digits, '-' or '_'")
    if not 0 <= val_fraction < 1:
        raise AppsError("--val-fraction must be between 0 and 1")
    root = Path(data).expanduser()
    folders = {split: root / split / name for split in ("train", "val")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    labels_path = root / "labels.txt"
    labels = read_labels_file(labels_path) if labels_path.is_file() else []
    if name not in labels:
        write_labels_file(labels_path, labels + [name])
    stream = open_source(choose_source(source, camera), loop=loop, width=width, height=height)
    window = WindowSink(f"apps collect vit - {name}") if not headless and has_display() else None
    saved = {"train": 0, "val": 0}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    next_save = time.monotonic()
    try:
        for frame in stream:
            now = time.monotonic()
            total = saved["train"] + saved["val"]
            if now >= next_save:
                # every k-th frame goes to val, so the split is spread over the whole recording
                split = (
                    "val" if val_fraction and (total + 1) % max(2, round(1 / val_fraction)) == 0 else "train"
                )
                path = folders[split] / f"{name}_{stamp}_{total:05d}.jpg"
                if not cv2.imwrite(str(path), frame.image):
                    raise AppsError(f"cannot write {path}")
                saved[split] += 1
                next_save = now + interval
                total += 1
            if window is not None:
                preview = frame.image.copy()
                draw_crop_box(preview)
                draw_banner(preview, f"{name}: {total}/{count}", color=(0, 120, 0))
                window.write(preview)
                if window.closed:
                    break
            if total >= count:
                break
    finally:
        stream.close()
        if window is not None:
            window.close()
    click.echo(f"saved {saved['train']} frames to {folders['train']} and {saved['val']} to {folders['val']}")
    click.echo(f"train on it: apps train vit --recipe vit-tiny-digits dataset={root}")
    return saved
