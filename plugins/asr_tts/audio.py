"""Audio in and out: soundfile I/O, torchaudio resampling, stereo downmix, 80-bin log-mel features.

Every loader returns mono float32 at ``SAMPLE_RATE`` (16 kHz), whatever the file had. Features follow
NeMo/Parakeet (512-point FFT, 25 ms window, 10 ms hop, pre-emphasis 0.97, Slaney mel, log with a tiny
guard, per-utterance mean/variance normalisation), so a pretrained Parakeet and our own models read the
same input.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from core import AppsError

SAMPLE_RATE = 16000
HOP_LENGTH = 160
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus")


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read ``path`` as mono float32 at ``sample_rate``. Corrupt or unsupported files raise AppsError."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AppsError(f"audio file {path} does not exist")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError ... for bad files
        raise AppsError(
            f"cannot read audio file {path}: {exc}",
            hint=f"use a WAV/FLAC/OGG/MP3 file (formats libsndfile {sf.__libsndfile_version__} reads), "
            "or convert it: ffmpeg -i INPUT -ar 16000 -ac 1 out.wav",
        ) from None
    return resample(downmix(data), rate, sample_rate)


def downmix(data: np.ndarray) -> np.ndarray:
    """(frames, channels) or (frames,) -> mono (frames,) float32, by averaging the channels."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono audio with torchaudio's windowed-sinc resampler."""
    if rate == target or len(audio) == 0:
        return np.asarray(audio, dtype=np.float32)
    import torch
    import torchaudio.functional as F

    out = F.resample(torch.from_numpy(np.asarray(audio, dtype=np.float32)), int(rate), int(target))
    return out.numpy().astype(np.float32)


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``audio`` ``factor`` times faster (Kaldi's speed perturbation): tempo, pitch and formants all
    scale, which imitates voices with other vocal tracts. The factor is rounded to a 400 Hz rate grid,
    so the resampling filter stays short."""
    import torch

    rate = int(round(SAMPLE_RATE / factor / 400)) * 400
    if rate == SAMPLE_RATE:
        return audio
    return _resampler(rate)(torch.from_numpy(np.asarray(audio, dtype=np.float32))).numpy()


@functools.lru_cache(maxsize=16)
def _resampler(rate: int):
    """torchaudio's resampler from SAMPLE_RATE to ``rate``; its filter kernel is computed once per rate."""
    import torchaudio

    return torchaudio.transforms.Resample(SAMPLE_RATE, rate)


def save_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write 16-bit PCM WAV (what every player and espeak-ng itself use)."""
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(
        str(path), np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate), subtype="PCM_16"
    )
    return path


def audio_files(folder: str | Path) -> list[Path]:
    """Audio files under ``folder`` (recursive), sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def input_files(paths) -> list[Path]:
    """The audio files that command-line ``paths`` name: files as given, folders searched; a clear error
    for a missing path or a folder without audio."""
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = audio_files(path)
            if not found:
                raise AppsError(f"no audio files (wav, flac, ogg, mp3) in {path}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise AppsError(f"{path} does not exist", hint="give audio files or folders, or --mic")
    return files


def rms_dbfs(audio: np.ndarray) -> float:
    """Loudness in dB relative to full scale; -inf-safe for empty or digital-silence audio."""
    if len(audio) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * np.log10(max(rms, 1e-6))


def speech_frames(audio: np.ndarray, threshold_db: float = -45.0, frame: int = 480) -> np.ndarray:
    """Energy voice-activity detection: one boolean per ``frame`` samples (30 ms at 16 kHz)."""
    count = len(audio) // frame
    if count == 0:
        return np.zeros(0, dtype=bool)
    frames = audio[: count * frame].reshape(count, frame).astype(np.float64)
    energy = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return energy > threshold_db


def has_speech(audio: np.ndarray, threshold_db: float = -45.0, min_ms: int = 90) -> bool:
    """Whether any stretch of ``min_ms`` or more rises above the energy threshold."""
    active = speech_frames(audio, threshold_db)
    return int(active.sum()) * 30 >= min_ms


def chunk_spans(length: int, chunk_s: float = 20.0, overlap_s: float = 0.0, sample_rate: int = SAMPLE_RATE):
    """Split ``length`` samples into (start, end) spans of at most ``chunk_s`` seconds, cut preferably
    at quiet points so words are not split (the caller passes the audio to ``split_on_silence``)."""
    size = int(chunk_s * sample_rate)
    spans, start = [], 0
    while start < length:
        spans.append((start, min(length, start + size)))
        start += size - int(overlap_s * sample_rate)
    return spans


def split_on_silence(
    audio: np.ndarray, max_s: float = 20.0, sample_rate: int = SAMPLE_RATE
) -> list[tuple[int, int]]:
    """Spans of at most ``max_s`` seconds whose boundaries fall at the quietest 30 ms frame of the last
    third of each span, so long recordings are cut between words rather than through them."""
    size, frame = int(max_s * sample_rate), 480
    spans, start = [], 0
    while len(audio) - start > size:
        window = audio[start + size * 2 // 3 : start + size]
        count = len(window) // frame
        energy = np.square(window[: count * frame].reshape(count, frame)).mean(axis=1)
        cut = start + size * 2 // 3 + int(np.argmin(energy)) * frame + frame // 2
        spans.append((start, cut))
        start = cut
    spans.append((start, len(audio)))
    return spans


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator, kind: str = "white") -> np.ndarray:
    """Mix noise at ``snr_db`` into ``audio``: white, pink-ish (integrated) or babble-like hum."""
    noise = rng.standard_normal(len(audio)).astype(np.float32)
    if kind == "pink":
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(64) / 64, mode="same")
    elif kind == "hum":
        t = np.arange(len(audio)) / SAMPLE_RATE
        noise = np.sin(2 * np.pi * rng.uniform(50, 120) * t) + 0.3 * noise
    power = float(np.mean(audio**2)) + 1e-10
    noise_power = float(np.mean(noise**2)) + 1e-10
    scale = np.sqrt(power / (noise_power * 10 ** (snr_db / 10)))
    return (audio + scale * noise).astype(np.float32)


class LogMel:
    """Batched 80-bin log-mel features with lengths, as NeMo/Parakeet compute them (torchaudio)."""

    def __init__(
        self,
        n_mels: int = 80,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = HOP_LENGTH,
        preemphasis: float = 0.97,
    ):
        import torch
        import torchaudio

        self.hop_length, self.n_fft, self.preemphasis = hop_length, n_fft, preemphasis
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length,
            hop_length=hop_length,
            n_mels=n_mels,
            window_fn=lambda size: torch.hann_window(size, periodic=False),
            power=2.0,
            center=True,
            pad_mode="constant",
            norm="slaney",
            mel_scale="slaney",
            f_min=0.0,
            f_max=sample_rate / 2,
        )

    def frames(self, num_samples):
        return num_samples // self.hop_length

    def __call__(self, waves: list[np.ndarray]):
        """list of mono float arrays -> (features (B, T, n_mels), attention_mask (B, T) long)."""
        import torch

        lengths = torch.tensor([len(w) for w in waves])
        batch = torch.zeros(len(waves), max(1, int(lengths.max())))
        for i, wave in enumerate(waves):
            batch[i, : len(wave)] = torch.as_tensor(wave, dtype=torch.float32)
        if self.preemphasis:
            batch = torch.cat([batch[:, :1], batch[:, 1:] - self.preemphasis * batch[:, :-1]], dim=1)
            batch = batch * (torch.arange(batch.shape[1])[None] < lengths[:, None])
        with torch.no_grad():
            feats = torch.log(self.mel(batch) + 2**-24).transpose(1, 2)  # (B, T, n_mels)
        frames = torch.clamp(lengths // self.hop_length, min=1)
        mask = torch.arange(feats.shape[1])[None] < frames[:, None]
        m = mask.unsqueeze(-1)
        mean = (feats * m).sum(1, keepdim=True) / frames[:, None, None]
        var = (((feats - mean) * m) ** 2).sum(1, keepdim=True) / torch.clamp(frames - 1, min=1)[:, None, None]
        feats = ((feats - mean) / (var.sqrt() + 1e-5)) * m
        return feats, mask.long()
