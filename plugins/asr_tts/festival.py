"""Running festival: one process speaks a whole batch from a Scheme script (starting it costs a quarter of a
second). Used by the corpus (its English voice) and accents.py (its other voices speaking English)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from core import AppsError

# A talker's prosody, set before each utterance: duration stretch, and the mean and range of the pitch
# that festival's English intonation model aims at (Scheme variables stretch, f0, std).
PROSODY = [
    "  (Parameter.set 'Duration_Stretch stretch)",
    "  (set! int_lr_params (list (list 'target_f0_mean f0) (list 'target_f0_std std)",
    "                            '(model_f0_mean 170) '(model_f0_std 34)))",
]


VOICE_DIRS = [Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices")]  # LANGUAGE/VOICE below


def installed_voices(voices) -> list[str]:
    """Those of ``voices`` that festival has installed ([] without festival)."""
    if shutil.which("festival") is None:
        return []
    folders = [folder for folder in VOICE_DIRS if folder.is_dir()]
    return [voice for voice in voices if any(any(folder.glob(f"*/{voice}")) for folder in folders)]


def scheme_string(text: str) -> str:
    """``text`` as a Scheme string literal (backslashes and quotes become spaces)."""
    return '"' + text.replace("\\", " ").replace('"', " ") + '"'


def talker(job: dict) -> str:
    """A job's text and prosody as Scheme arguments: ``"text" stretch f0 std``."""
    return f"{scheme_string(job['text'])} {job['stretch']:.3f} {job['f0']} {job['f0_std']}"


def run_script(lines: list[str], script: Path, timeout: float, makes: tuple | list = ()) -> str:
    """Run the Scheme ``lines`` as ``script`` in one festival process; its standard output. ``makes``: the
    files it must have written (a missing one is an error)."""
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        ["festival", "--batch", str(script)], capture_output=True, text=True, timeout=timeout
    )
    script.unlink()
    missing = [path for path in makes if not path.is_file()]
    if done.returncode != 0 or missing:
        unwritten = f" ({len(missing)} of {len(makes)} files not written)" if missing else ""
        raise AppsError(
            f"festival failed on {script.name}{unwritten}: {done.stderr.strip()[-300:]}",
            hint="check the voices, e.g. festival --batch '(voice_ked_diphone)' '(SayText \"hello\")'",
        )
    return done.stdout
