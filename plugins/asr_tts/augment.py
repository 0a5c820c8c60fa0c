"""Training-time augmentation in numpy: the conditions a synthesised corpus lacks.

``Augmenter`` turns one clean utterance into what a microphone might hear: another speaking rate and
vocal-tract length (speed), another tempo at the same pitch, another pitch at the same tempo, a simulated room (our own impulse responses:
sparse early reflections from an image-source-like model of a box room, then an exponentially decaying,
darkening tail), background noise at 5-30 dB SNR (babble of other training utterances, crowd, hum, fan,
white, pink, brown), a microphone's bandwidth (telephone, laptop, cheap headset), and gain with clipping.
Each step is drawn independently, so the model meets every combination.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 16000
NOISE_KINDS = ("babble", "crowd", "hum", "fan", "white", "pink", "brown")


@dataclass
class AugmentSettings:
    speed: float = 0.15  # play at 1 +- this (tempo and pitch together)
    speed_prob: float = 0.6
    pitch_semitones: float = 3.0  # shift pitch and formants by up to this, keeping the tempo
    pitch_prob: float = 0.2
    tempo: float = 0.15  # tempo 1 +- this at the same pitch
    tempo_prob: float = 0.2
    room_prob: float = 0.5
    rt60: tuple = (0.15, 0.9)  # reverberation time of the simulated rooms, seconds
    noise_prob: float = 0.6
    snr_db: tuple = (5.0, 30.0)
    bandwidth_prob: float = 0.3
    clip_prob: float = 0.05


def room_impulse(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A room's impulse response: the direct sound, early reflections of a box room, a diffuse tail.

    Early part: the six first-order and some second-order image sources of a random box (3-10 m) with
    the talker and microphone placed at random: each arrives after its path length / 343 m/s, attenuated
    by 1/distance and the walls' reflection coefficient. Late part: Gaussian noise with the energy decay
    of ``rt60`` (60 dB down after rt60 s), its high frequencies decaying faster (air and soft surfaces).
    """
    size = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
    talker, mic = rng.uniform(0.3, size - 0.3), rng.uniform(0.3, size - 0.3)
    reflect = float(np.sqrt(1.0 - rng.uniform(0.3, 0.8)))  # amplitude kept per wall bounce
    length = int(RATE * min(1.2, rt60 * 1.1)) + 1
    response = np.zeros(length)
    for order in range(3):
        for axis_signs in _image_offsets(order):
            image = talker.copy()
            for axis, n in axis_signs:  # mirror the talker n times across the walls of this axis
                image[axis] = n * size[axis] + (talker[axis] if n % 2 == 0 else size[axis] - talker[axis])
            distance = max(0.3, float(np.linalg.norm(image - mic)))
            delay = int(distance / 343.0 * RATE)
            if delay < length:
                response[delay] += reflect ** sum(abs(n) for _, n in axis_signs) / distance
    start = int(np.flatnonzero(response)[0])
    t = np.arange(length - start) / RATE
    decay = np.exp(-6.9 * t / rt60)  # amplitude: 60 dB down at rt60
    tail = rng.standard_normal(len(t)) * decay
    dark = np.convolve(tail, np.ones(4) / 4, mode="same") * np.exp(-6.9 * t / (rt60 * 0.5))
    late = (tail - dark) * 0.5 + dark  # highs fade faster than lows
    direct = response[start]
    ratio = 10 ** (rng.uniform(-6.0, 6.0) / 20)  # direct-to-reverberant energy ratio, -6..+6 dB
    late *= direct / (ratio * np.sqrt(np.sum(late**2)) + 1e-9)
    response[start:] += late * (np.arange(len(t)) > int(0.005 * RATE))  # diffuse part after 5 ms
    return (response[start:] / np.max(np.abs(response))).astype(np.float32)


def _image_offsets(order: int):
    """Image sources of reflection ``order``: tuples of (axis, signed mirror count)."""
    if order == 0:
        return [()]
    if order == 1:
        return [((axis, n),) for axis in range(3) for n in (-1, 1)]
    pairs = [((a, n), (b, m)) for a in range(3) for b in range(a + 1, 3) for n in (-1, 1) for m in (-1, 1)]
    return pairs + [((axis, n),) for axis in range(3) for n in (-2, 2)]


def convolve(audio: np.ndarray, response: np.ndarray) -> np.ndarray:
    from scipy.signal import fftconvolve

    return fftconvolve(audio, response)[: len(audio) + len(response) // 4].astype(np.float32)


def noise(kind: str, length: int, rng: np.random.Generator, others=()) -> np.ndarray:
    """``length`` samples of background ``kind``; babble and crowd are made of ``others`` (utterances)."""
    white = rng.standard_normal(length)
    if kind == "white":
        return white
    if kind == "pink":  # 1/f: white shaped in the frequency domain
        spectrum = np.fft.rfft(white) / np.sqrt(np.maximum(np.arange(length // 2 + 1), 1))
        return np.fft.irfft(spectrum, length)
    if kind == "brown":
        walk = np.cumsum(white)
        return walk - np.convolve(walk, np.ones(800) / 800, mode="same")
    t = np.arange(length) / RATE
    if kind == "hum":  # mains hum and its harmonics, a little hiss
        base = rng.choice([50.0, 60.0]) * rng.uniform(0.98, 1.02)
        return (
            sum(
                rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6))
                for k in (1, 2, 3, 5)
            )
            + 0.05 * white
        )
    if kind == "fan":  # broadband rush tilted to the lows, a blade tone, slow beating
        from scipy.signal import butter, sosfilt

        rush = sosfilt(butter(2, rng.uniform(400, 2500), fs=RATE, output="sos"), white)
        blade = rng.uniform(80, 300)
        tone = 0.3 * np.sin(2 * np.pi * blade * t) + 0.1 * np.sin(4 * np.pi * blade * t)
        return (rush / (np.std(rush) + 1e-9) + tone) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 4) * t))
    talkers = list(others) or [white]
    count = int(rng.integers(3, 7)) if kind == "babble" else int(rng.integers(8, 16))
    mix = np.zeros(length)
    for _ in range(count):
        voice = talkers[int(rng.integers(len(talkers)))]
        voice = np.resize(voice, length + int(rng.integers(len(voice) + 1)))[-length:]  # loop, random start
        mix += voice / (np.std(voice) + 1e-9) * rng.uniform(0.5, 1.0)
    if kind == "crowd":  # many distant talkers in a big room: smeared, plus a murmur floor
        mix = np.convolve(mix, np.hanning(160) / 80, mode="same") + 0.3 * noise("pink", length, rng) * np.std(
            mix
        )
    return mix


def add_at_snr(audio: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    power = float(np.mean(audio.astype(np.float64) ** 2)) + 1e-10
    noise_power = float(np.mean(background**2)) + 1e-10
    return (audio + background * np.sqrt(power / (noise_power * 10 ** (snr_db / 10)))).astype(np.float32)


def microphone(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A device's bandwidth: telephone (300-3400 Hz), laptop (thin lows, soft highs) or a headset."""
    from scipy.signal import butter, sosfilt

    kind = rng.choice(["telephone", "laptop", "headset"])
    if kind == "telephone":
        sos = butter(4, [rng.uniform(250, 400), rng.uniform(3200, 3600)], "bandpass", fs=RATE, output="sos")
    elif kind == "laptop":
        sos = butter(2, [rng.uniform(150, 400), rng.uniform(4500, 7000)], "bandpass", fs=RATE, output="sos")
    else:
        sos = butter(2, [rng.uniform(80, 200), rng.uniform(5000, 7800)], "bandpass", fs=RATE, output="sos")
    return sosfilt(sos, audio).astype(np.float32)


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo, pitch and formants together), on a 1/40 ratio grid."""
    from scipy.signal import resample_poly

    down = int(round(40 * factor))
    return audio if down == 40 else resample_poly(audio, 40, down).astype(np.float32)


def stretch(audio: np.ndarray, factor: float) -> np.ndarray:
    """Tempo times ``factor`` at the same pitch: a phase vocoder on a 512-point STFT."""
    import torch
    import torchaudio.functional as F

    window = torch.hann_window(512)
    spec = torch.stft(torch.from_numpy(audio), 512, 128, window=window, return_complex=True)
    phase_advance = torch.linspace(0, np.pi * 128, spec.shape[0])[:, None]
    slower = F.phase_vocoder(spec, factor, phase_advance)
    return torch.istft(slower, 512, 128, window=window).numpy().astype(np.float32)


def shift_pitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch and formants up by ``semitones`` at the same tempo: stretch, then play faster."""
    factor = 2 ** (semitones / 12)
    return change_speed(stretch(audio, 1 / factor), factor)


class Augmenter:
    """``augmenter(audio, others)``: one random acoustic condition applied to ``audio``; ``others`` are
    a few other training utterances for babble."""

    def __init__(self, settings: AugmentSettings | None = None, seed: int = 0):
        self.settings = settings or AugmentSettings()
        self.rng = np.random.default_rng(seed)

    def __call__(self, audio: np.ndarray, others=()) -> np.ndarray:
        s, rng = self.settings, self.rng
        if s.speed and rng.random() < s.speed_prob:
            audio = change_speed(audio, float(rng.uniform(1 - s.speed, 1 + s.speed)))
        if s.tempo and rng.random() < s.tempo_prob:
            audio = stretch(audio, float(rng.uniform(1 - s.tempo, 1 + s.tempo)))
        if s.pitch_semitones and rng.random() < s.pitch_prob:
            audio = shift_pitch(audio, round(float(rng.uniform(-s.pitch_semitones, s.pitch_semitones)), 1))
        if rng.random() < s.room_prob:
            audio = convolve(audio, room_impulse(rng, float(rng.uniform(*s.rt60))))
        if rng.random() < s.noise_prob:
            kind = str(rng.choice(NOISE_KINDS))
            audio = add_at_snr(audio, noise(kind, len(audio), rng, others), float(rng.uniform(*s.snr_db)))
        if rng.random() < s.bandwidth_prob:
            audio = microphone(audio, rng)
        peak = float(np.max(np.abs(audio))) + 1e-9
        if rng.random() < s.clip_prob:  # an overdriven input: up to 12 dB into clipping
            return np.clip(audio / peak * 10 ** rng.uniform(0.05, 0.6), -1, 1).astype(np.float32)
        return (audio / peak * rng.uniform(0.03, 0.95)).astype(np.float32)  # any level below full scale
