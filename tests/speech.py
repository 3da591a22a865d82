"""Spoken Chinese for the voice tests: espeak-ng → WAV → 8 kHz PCM (ffmpeg) → AMR-NB, as a phone records it.

Debian's ffmpeg decodes AMR but has no AMR encoder, so the frames are encoded with Debian's libopencore-amrnb0
(the codec ffmpeg itself links when built with it) through ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
from dataclasses import dataclass
from pathlib import Path

RATE = 8000
FRAME = 160  # samples per 20 ms AMR frame
MODE_122 = 7  # MR122: 12.2 kbit/s, 32 bytes a frame
MISSING = "语音测试需要 Debian 软件包 espeak-ng、ffmpeg 和 libopencore-amrnb0（apt-get install …）"


@dataclass(frozen=True)
class Speech:
    amr: bytes
    seconds: float


def _encoder() -> ctypes.CDLL:
    name = ctypes.util.find_library("opencore-amrnb")
    if name is None:
        raise RuntimeError(MISSING)
    lib = ctypes.CDLL(name)
    lib.Encoder_Interface_init.restype = ctypes.c_void_p
    lib.Encoder_Interface_init.argtypes = [ctypes.c_int]
    lib.Encoder_Interface_Encode.restype = ctypes.c_int
    lib.Encoder_Interface_Encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                             ctypes.c_int]
    lib.Encoder_Interface_exit.argtypes = [ctypes.c_void_p]
    return lib


def amr_from_pcm(pcm: bytes) -> bytes:
    """8 kHz mono signed 16-bit samples → an AMR-NB file (`#!AMR\\n` and 12.2 kbit/s frames)."""
    lib = _encoder()
    state = lib.Encoder_Interface_init(0)
    out = bytearray(b"#!AMR\n")
    buffer = ctypes.create_string_buffer(64)
    step = FRAME * 2
    try:
        for start in range(0, len(pcm) - step + 1, step):
            frame = ctypes.create_string_buffer(pcm[start:start + step], step)
            size = lib.Encoder_Interface_Encode(state, MODE_122, frame, buffer, 0)
            out += buffer.raw[:size]
    finally:
        lib.Encoder_Interface_exit(state)
    return bytes(out)


def spoken(text: str, folder: Path) -> Speech:
    """`text` read aloud in Mandarin by espeak-ng, as AMR, with its length in whole frames."""
    wav = folder / "speech.wav"
    try:
        subprocess.run(["espeak-ng", "-v", "cmn", "-w", str(wav), text], check=True, capture_output=True)
        pcm = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(wav), "-ac", "1", "-ar", str(RATE),
                              "-f", "s16le", "pipe:1"], check=True, capture_output=True).stdout
    except FileNotFoundError:
        raise RuntimeError(MISSING) from None
    frames = len(pcm) // (FRAME * 2)
    return Speech(amr_from_pcm(pcm), frames * FRAME / RATE)


def silence(seconds: float) -> Speech:
    frames = int(seconds * RATE / FRAME)
    return Speech(amr_from_pcm(bytes(frames * FRAME * 2)), frames * FRAME / RATE)
