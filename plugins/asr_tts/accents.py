"""English with a foreign accent: festival's Italian, Finnish and Czech voices speaking the corpus.

Debian ships one English festival voice free to train on (ked; Kal and the ARCTIC voices are reserved for
evaluation), but diphone voices of other languages, female and male. Festival's English front end turns a
text into phones, durations and pitch targets (``english_plans``); each English phone becomes the nearest
phones of the voice's language (``PHONE_MAPS``: "th" -> "t" in Italian, "w" -> "v" in Czech, a dropped "h"
in Italian: the accents their speakers have), and the voice speaks them at those durations and pitches
(festival's ``Segments`` utterances). New vocal tracts, new diphone recordings, new accents: the variation
between speakers a model of two synthesisers lacks. Two festival processes per batch: one plans the English,
one speaks (starting festival costs a quarter of a second).
"""

from __future__ import annotations

from pathlib import Path

from plugins.asr_tts.festival import PROSODY, installed_voices, run_script, scheme_string, talker

# festival's English phones (the radio set of its US English front end) -> phones of each language
ENGLISH_PHONES = (
    "aa ae ah ao aw ax axr ay b ch d dh dx eh el em en er ey f g hh hv ih iy jh k l m n nx ng ow oy p pau r "
    "s sh t th uh uw v w y z zh"
).split()
_SHARED = {c: c for c in "b d f g k l m n p r s t v z".split()}
PHONE_MAPS = {
    "italian": {
        **_SHARED,
        **dict(aa="a", ae="E", ah="a", ao="O", aw="a u", ax="e", axr="e r", ay="a i", ch="tS", dh="d"),
        **dict(dx="d", eh="E", el="e l", em="e m", en="e n", er="e r", ey="e i", hh="", hv="", ih="i"),
        **dict(iy="i", jh="dZ", nx="n", ng="ng", ow="o u", oy="O i", pau="#", sh="S", th="t", uh="u"),
        **dict(uw="u", w="w", y="j", zh="Z"),
    },
    "finnish": {
        **_SHARED,
        **dict(aa="a:", ae="@", ah="a", ao="o:", aw="a u", ax="&", axr="& r", ay="a i", ch="t S", dh="D:"),
        **dict(dx="d", eh="e", el="& l", em="& m", en="& n", er="7 r", ey="e i", hh="h", hv="h", ih="i"),
        **dict(iy="i:", jh="d Z:", nx="n", ng="N", ow="o u", oy="o i", pau="#", sh="S", th="T", uh="u"),
        **dict(uw="u:", w="w", y="j", zh="Z:"),
    },
    "czech": {
        **_SHARED,
        **dict(aa="a:", ae="e", ah="a", ao="o:", aw="a u", ax="e", axr="e r", ay="a j", ch="c~", dh="d"),
        **dict(dx="d", eh="e", el="e l", em="e m", en="e n", er="e r", ey="e j", hh="h", hv="h", ih="i"),
        **dict(iy="i:", jh="dz~", nx="n", ng="n", ow="o u", oy="o j", pau="#", sh="s~", th="t", uh="u"),
        **dict(uw="u:", w="v", y="j", zh="z~"),
    },
}
# voice -> (language, pitch range in Hz): apt-get install festvox-italp16k festvox-itapc16k
# festvox-suopuhe-lj festvox-suopuhe-mv festvox-czech-dita festvox-czech-machac
ACCENT_VOICES = {
    "lp_diphone": ("italian", (150, 250)),
    "pc_diphone": ("italian", (75, 150)),
    "suo_fi_lj_diphone": ("finnish", (150, 250)),
    "hy_fi_mv_diphone": ("finnish", (75, 150)),
    "czech_dita": ("czech", (150, 250)),
    "czech_machac": ("czech", (75, 150)),
}


def accent_voices() -> list[str]:
    """The voices of ``ACCENT_VOICES`` that are installed ([] without festival or its English voice, ked)."""
    return installed_voices(ACCENT_VOICES) if installed_voices(["ked_diphone"]) else []


def english_plans(jobs: list[dict], folder: Path, timeout: float = 900) -> dict[str, list]:
    """``{id: [(phone, seconds, [(seconds into the phone, f0), ...]), ...]}``: festival's English front end
    (ked's lexicon, duration and intonation models) for each job's text, stretch and pitch."""
    lines = [
        "(define (plan id text stretch f0 std)",
        "  (voice_ked_diphone)",
        *PROSODY,
        "  (let ((u (eval (list 'Utterance 'Text text))))",
        "    (mapcar (lambda (m) (apply m (list u)))",
        "      (list Initialize Text Token_POS Token POS Phrasify Word Pauses Intonation PostLex Duration",
        "            Int_Targets))",
        '    (format t "U %s\\n" id)',
        '    (mapcar (lambda (s) (format t "S %s %f\\n" (item.name s) (item.feat s "end")))',
        "            (utt.relation.items u 'Segment))",
        '    (mapcar (lambda (x) (format t "T %f %f\\n" (item.feat x "pos") (item.feat x "f0")))',
        "            (utt.relation.items u 'Target))))",
    ]
    lines += [f"(plan {scheme_string(job['id'])} {talker(job)})" for job in jobs]
    segments: dict[str, list] = {}
    targets: dict[str, list] = {}
    for line in run_script(lines, folder / f"plan-{jobs[0]['id']}.scm", timeout).splitlines():
        kind, *fields = line.split() or [""]
        if kind == "U":
            current = fields[0]
            segments[current], targets[current] = [], []
        elif kind == "S" and segments:
            segments[current].append((fields[0], float(fields[1])))
        elif kind == "T" and segments and float(fields[1]) > 0:  # festival marks unset targets f0 = 0
            targets[current].append((float(fields[0]), float(fields[1])))
    return {key: _with_targets(segments[key], targets[key]) for key in segments}


def _with_targets(segments: list, targets: list) -> list:
    """(phone, end) and absolute (time, f0) -> (phone, duration, [(time into the phone, f0), ...])."""
    out, start = [], 0.0
    for phone, end in segments:
        inside = [(t - start, f0) for t, f0 in targets if start <= t < end]
        out.append((phone, max(end - start, 0.01), inside))
        start = end
    return out


def accented_segments(plan: list, language: str) -> str:
    """A festival ``Segments`` list for ``plan`` in ``language``'s phones; an English phone that becomes two
    shares its duration, a dropped one (Italian "h") gives its time to nothing, an unknown one is a pause."""
    mapping, parts = PHONE_MAPS[language], []
    for phone, seconds, targets in plan:
        phones = mapping.get(phone, "#").split()
        for k, name in enumerate(phones):
            share, begin = seconds / len(phones), k * seconds / len(phones)
            pitch = " ".join(f"({t - begin:.3f} {f0:.1f})" for t, f0 in targets if begin <= t < begin + share)
            parts.append(f"({name} {share:.3f} {pitch})" if pitch else f"({name} {share:.3f})")
    return " ".join(parts)


def accent_batch(jobs: list[dict], folder: Path, timeout: float = 900) -> None:
    """Speak every job ``{"id", "text", "voice", "stretch", "f0", "f0_std"}`` (voice: a key of
    ``ACCENT_VOICES``) into ``folder/ID.wav``."""
    plans = english_plans(jobs, folder, timeout)
    lines = []
    for job in jobs:
        segments = accented_segments(plans[job["id"]], ACCENT_VOICES[job["voice"]][0])
        path = scheme_string(str(folder / f"{job['id']}.wav"))
        lines.append(
            f"(voice_{job['voice']}) (utt.save.wave (utt.synth (Utterance Segments ({segments}))) {path} 'riff)"
        )
    wavs = [folder / f"{job['id']}.wav" for job in jobs]
    run_script(lines, folder / f"speak-{jobs[0]['id']}.scm", timeout, makes=wavs)
