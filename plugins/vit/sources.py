"""Where the camera-scene generator finds typefaces and photographs, split into the sources it may train on
and the ones reserved for the held-out evaluation.

Reserved (evaluation only, never trained on or used to choose settings): the URW base35 typefaces
(``fonts-urw-base35``), WenQuanYi (``fonts-wqy-*``) and DejaVu (``fonts-dejavu*``, also bundled by
matplotlib); the sample images of scikit-image, scikit-learn, matplotlib and gradio. Training draws on every
other system typeface (Noto, Liberation, FreeFont, Lato, Open Sans, Roboto, Cantarell ...) and on the
wallpaper packages' images (gnome-backgrounds, mate-backgrounds, desktop-base, ukui-wallpapers and the
lomiri-wallpapers packages: landscapes, cities, animals, objects), on the real camera frames of ViSP's
test images (``visp-images-data``: grayscale frames of a desk, a poster, a castle model, paper edges), plus
procedural scenes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
# A font is reserved when its path or its family name contains one of these (case-insensitive).
RESERVED_FONT_MARKS = (
    "urw-base35", "urw", "nimbus", "c059", "p052", "z003", "d050000l", "standardsymbols", "wqy",
    "wenquanyi", "dejavu", "mpl-data",
)  # fmt: skip
BACKGROUND_DIRS = (
    Path("/usr/share/backgrounds"),
    Path("/usr/share/wallpapers"),
    Path("/usr/share/desktop-base"),
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
VISP_IMAGES = Path("/usr/share/visp-images-data/ViSP-images")
# ViSP's real camera frames (visp-images-data, GPL-2, Inria): (pattern, every n-th file). Its sequences are
# video at 25 frames/s, so only every n-th frame: the others are nearly the same picture. Left out: its
# synthetic images (ellipses, a disc, renders of a castle and of AprilTags, warped and blurred copies),
# the calibration grids and targets (rows of black dots, a white disc on a black square: shapes on a card,
# which the scene must not call none), and the model snapshots annotated with the digits 1-4.
VISP_FRAMES = (
    ("mbt/cube/image*.pgm", 10),  # a desk: a cube, a tube, a cable, a hand (218 frames)
    ("cube/image.*.pgm", 10),  # a cube with dots over a comic poster (80)
    ("mbt-depth/castel/castel/image_*.pgm", 5),  # a castle model on a table, a window behind (30)
    ("line/image.*.pgm", 8),  # the edges of paper sheets on a dark desk (33)
    ("AprilTag/AprilTag.pgm", 1),  # printed tags on a desk
    ("Klimt/Klimt.png", 1),  # a painting
    ("Solvay/Solvay_conference_1927_Version2_1024x705.jpg", 1),  # a group photograph
)
# Packages whose sample photographs are the held-out scenes (the folders inside each package).
RESERVED_PHOTO_PACKAGES = {
    "skimage": ("data",),
    "sklearn": ("datasets/images",),
    "matplotlib": ("mpl-data/sample_data",),
    "gradio": ("media_assets/images", "test_data"),
}
TRAINING_FONT_PACKAGES = (
    "fonts-noto-core fonts-liberation2 fonts-freefont-ttf fonts-lato fonts-open-sans fonts-roboto-unhinted "
    "fonts-cantarell"
)
TRAINING_BACKGROUND_PACKAGES = (
    "gnome-backgrounds mate-backgrounds desktop-base ukui-wallpapers lomiri-wallpapers lomiri-wallpapers-16.04 "
    "lomiri-wallpapers-20.04 visp-images-data"
)
RESERVED_PACKAGES = "fonts-urw-base35 fonts-wqy-zenhei fonts-dejavu-core (and pip: scikit-image)"


# Faces whose digit code points draw symbols (dingbats, maths, music) are no typeface for digits at all.
SYMBOL_FONT_MARKS = ("symbol", "dingbat", "d050000l", "emoji", "music", "math")


def is_reserved_font(path: Path) -> bool:
    text = str(path).lower().replace(" ", "")
    return any(mark in text for mark in RESERVED_FONT_MARKS)


def _font_files() -> list[Path]:
    files = []
    for folder in FONT_DIRS:
        if folder.is_dir():
            files += [p for p in folder.rglob("*") if p.suffix.lower() in FONT_SUFFIXES]
    return sorted(p for p in files if not any(mark in p.name.lower() for mark in SYMBOL_FONT_MARKS))


def training_fonts() -> list[Path]:
    return [p for p in _font_files() if not is_reserved_font(p)]


def reserved_fonts() -> list[Path]:
    """The reserved typefaces: the system's URW base35, WenQuanYi and DejaVu files, and matplotlib's DejaVu."""
    fonts = [p for p in _font_files() if is_reserved_font(p)]
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        fonts += sorted((Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf").glob("DejaVu*.ttf"))
    return fonts


def training_backgrounds() -> list[Path]:
    files = []
    for folder in BACKGROUND_DIRS:
        if folder.is_dir():
            files += [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    # Logos and boot-menu art are flat graphics, not scenes.
    files = [p for p in files if "logo" not in str(p).lower() and "grub" not in str(p).lower()]
    return sorted(files) + visp_frames()


def visp_frames(root: Path = VISP_IMAGES) -> list[Path]:
    """The real camera frames of ``visp-images-data`` (:data:`VISP_FRAMES`), none when it is not installed."""
    frames = []
    for pattern, step in VISP_FRAMES:
        frames += sorted(root.glob(pattern))[::step]
    return frames


def reserved_photos() -> list[Path]:
    files = []
    for package, folders in RESERVED_PHOTO_PACKAGES.items():
        spec = importlib.util.find_spec(package)
        if not spec or not spec.origin:
            continue
        for folder in folders:
            root = Path(spec.origin).parent / folder
            if root.is_dir():
                files += [p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files)


def source_summary() -> dict:
    return {
        "training_fonts": len(training_fonts()),
        "training_backgrounds": len(training_backgrounds()),
        "reserved_fonts": len(reserved_fonts()),
        "reserved_photos": len(reserved_photos()),
    }
