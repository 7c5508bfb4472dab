#!/usr/bin/python3
"""Compare a received recording with the source sound file.

Usage:
  send_wavcmp.py gen OUT.wav SECONDS SEED     write a 48 kHz stereo 16-bit test
                                             signal (sweep + seeded noise)
  send_wavcmp.py cmp SRC.wav GOT.wav exact    L16: bit-exact after alignment
  send_wavcmp.py cmp SRC.wav GOT.wav snr DB   Opus: SNR at least DB after alignment

The received file is aligned to the source by cross-correlation (FFT) of
the first channel; the comparison covers the part of the source found in
the recording, which must be at least 98 % of it. Prints one line with the
lag, the overlap and the result; exits 1 on a mismatch.
"""
import sys
import wave

import numpy as np


def read(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"{path}: want 16-bit PCM, got {8 * w.getsampwidth()}-bit")
        ch = w.getnchannels()
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.reshape(-1, ch).astype(np.int64), rate


def gen(path, seconds, seed):
    rate = 48000
    n = int(seconds * rate)
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    f0, f1 = 100.0, 8000.0
    phase = 2 * np.pi * f0 * seconds / np.log(f1 / f0) * (np.exp(t / seconds * np.log(f1 / f0)) - 1)
    sweep = 0.4 * np.sin(phase)
    left = sweep + 0.03 * rng.standard_normal(n)
    right = 0.5 * sweep + 0.03 * rng.standard_normal(n)
    x = np.clip(np.stack([left, right], axis=1), -1, 1)
    pcm = np.round(x * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def lag_of(src, got):
    """Offset of src inside got (got[lag + i] ~ src[i])."""
    a = src[:, 0].astype(np.float64)
    b = got[:, 0].astype(np.float64)
    n = 1
    while n < len(a) + len(b):
        n *= 2
    c = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    k = int(np.argmax(c))
    return k if k < n - len(a) + 1 else k - n


def cmp(src_path, got_path, mode, min_snr):
    src, r1 = read(src_path)
    got, r2 = read(got_path)
    if r1 != r2 or src.shape[1] != got.shape[1]:
        sys.exit(f"format differs: {r1} Hz x{src.shape[1]} vs {r2} Hz x{got.shape[1]}")
    if len(got) == 0:
        print("FAIL: the recording is empty")
        return 1
    lag = lag_of(src, got)
    s0 = max(0, -lag)
    s1 = min(len(src), len(got) - lag)
    overlap = max(0, s1 - s0)
    cover = overlap / len(src)
    a = src[s0:s1]
    b = got[s0 + lag:s1 + lag]
    err = (b - a).astype(np.float64)
    sig = a.astype(np.float64)
    snr = 10 * np.log10((sig ** 2).sum() / max((err ** 2).sum(), 1e-9))
    diff = int(np.count_nonzero(b != a))
    print(f"lag {lag} frames, overlap {overlap}/{len(src)} frames ({100 * cover:.1f} %), "
          f"differing samples {diff}, SNR {snr:.1f} dB")
    if cover < 0.98:
        print("FAIL: too little of the source was received")
        return 1
    if mode == "exact" and diff != 0:
        first = int(np.argwhere((b != a).any(axis=1))[0][0])
        print(f"FAIL: not bit-exact (first difference at source frame {s0 + first})")
        return 1
    if mode == "snr" and snr < min_snr:
        print(f"FAIL: SNR {snr:.1f} dB below {min_snr} dB")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "gen":
        gen(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    if len(sys.argv) >= 5 and sys.argv[1] == "cmp":
        sys.exit(cmp(sys.argv[2], sys.argv[3], sys.argv[4],
                     float(sys.argv[5]) if len(sys.argv) > 5 else 0.0))
    sys.exit(__doc__)
