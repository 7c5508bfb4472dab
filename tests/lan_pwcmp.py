#!/usr/bin/python3
"""Test signals and verdicts of tests/lan_pipewire.sh.

Usage:
  lan_pwcmp.py gen DIR                 write DIR/noise{16,24}.wav (+ .npy: the
                                       signal without its padding) and
                                       DIR/band{16,24}.wav (+ .npy)
  lan_pwcmp.py exact BITS SRC.npy REC  REC holds SRC sample for sample,
                                       digital silence before and after
  lan_pwcmp.py band BITS SRC.npy REC SNR_MIN SNR_FLOOR
                                       REC is SRC resampled by a ratio near
                                       1: every 20 ms block, aligned by its
                                       own fractional delay (within 2
                                       frames), has an error SNR_MIN dB
                                       below the signal (95 % of them) and
                                       SNR_FLOOR dB (all of them)

noise: seeded white noise using every bit of the sample (so that a bit
lost anywhere shows), 47 quanta of 1024 frames (1 s), then 2048 frames of
silence (PipeWire's rtp-sink sends whole packets only: its last, partial
one holds silence). band: 1 s of silence (time for pw-record to start),
1.5 s of a 1 kHz sine and noise below 8 kHz, band-limited so that a
fractional delay is exact, then 1.5 s of silence (PipeWire's rtp-source
drops what it still buffers when the deletion comes). One line of
verdict; exit 1 on a mismatch.
"""
import struct
import sys

import numpy as np

RATE = 48000


def write_wav(path, x, bits):
    ch = x.shape[1]
    bps = bits // 8
    if bits == 16:
        b = x.astype("<i2").tobytes()
    else:
        b = x.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(b)) + b"WAVEfmt "
                + struct.pack("<IHHIIHH", 16, 1, ch, RATE, RATE * ch * bps,
                              ch * bps, bits)
                + b"data" + struct.pack("<I", len(b)) + b)


def read_wav(path):
    """Integer samples (frames x channels) and their bit depth; the chunks
    are walked (WAVE_FORMAT_EXTENSIBLE and extra chunks are fine), and a
    data size left unfinished by an interrupted writer is taken as the
    rest of the file."""
    b = open(path, "rb").read()
    if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        sys.exit(f"{path}: not a WAV file")
    pos, bits, ch = 12, 0, 0
    while pos + 8 <= len(b):
        cid, size = b[pos:pos + 4], int.from_bytes(b[pos + 4:pos + 8], "little")
        body = b[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            ch = int.from_bytes(body[2:4], "little")
            bits = int.from_bytes(body[14:16], "little")
        elif cid == b"data":
            if size == 0 or size == 0xFFFFFFFF or pos + 8 + size > len(b):
                body = b[pos + 8:]
            break
        pos += 8 + size + (size & 1)
    else:
        sys.exit(f"{path}: no data chunk")
    bps = bits // 8
    raw = body[:len(body) // (bps * ch) * bps * ch]
    if bits == 16:
        x = np.frombuffer(raw, "<i2").astype(np.int64)
    elif bits == 24:
        a = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int64)
        x = a[:, 0] | a[:, 1] << 8 | a[:, 2] << 16
        x = np.where(x >= 1 << 23, x - (1 << 24), x)
    else:
        sys.exit(f"{path}: {bits}-bit samples")
    return x.reshape(-1, ch), bits


def gen(d):
    rng = np.random.default_rng(44)
    pad = np.zeros((2048, 2), dtype=np.int64)
    for bits in (16, 24):
        lim = 1 << (bits - 1)
        x = rng.integers(-lim, lim, size=(1024 * 47, 2))
        x[0] = [lim // 2, -lim // 2]  # the first frame is never silent
        x[-1] = [lim // 3, -lim // 3]  # nor the last
        write_wav(f"{d}/noise{bits}.wav", np.concatenate([x, pad]), bits)
        np.save(f"{d}/noise{bits}.npy", x)
    m = RATE * 3 // 2
    t = np.arange(m) / RATE
    spec = np.fft.rfft(rng.standard_normal((m, 2)), axis=0)
    spec[int(8000 * m / RATE):] = 0
    noise = np.fft.irfft(spec, m, axis=0)
    noise *= 0.15 / np.abs(noise).max()
    sig = np.stack([0.4 * np.sin(2 * np.pi * 1000 * t)] * 2, axis=1) + noise
    lead = np.zeros((RATE, 2), dtype=np.int64)
    tail = np.zeros((RATE * 3 // 2, 2), dtype=np.int64)
    for bits in (16, 24):
        x = np.round(sig * ((1 << (bits - 1)) - 1)).astype(np.int64)
        write_wav(f"{d}/band{bits}.wav", np.concatenate([lead, x, tail]),
                  bits)
        np.save(f"{d}/band{bits}.npy", x)


def exact(bits, src_path, rec_path):
    src = np.load(src_path)
    rec, rbits = read_wav(rec_path)
    if rbits != bits:
        sys.exit(f"recorded {rbits}-bit, sent {bits}-bit")
    nz = np.flatnonzero(rec.any(axis=1))
    if len(nz) == 0:
        sys.exit("the recording is silent")
    off = nz[0]
    got = rec[off:off + len(src)]
    if len(got) < len(src):
        sys.exit(f"the recording ends {len(src) - len(got)} frames early")
    bad = np.flatnonzero((got != src).any(axis=1))
    if len(bad):
        sys.exit(f"differs at frame {bad[0]} of {len(src)} "
                 f"(recording frame {off + bad[0]})")
    tail = rec[off + len(src):]
    if tail.any():
        sys.exit(f"{np.count_nonzero(tail.any(axis=1))} non-silent frames "
                 "after the signal")
    print(f"bit-exact: all {len(src)} frames from recording frame {off}, "
          f"digital silence before and after")


def band(bits, src_path, rec_path, snr_min, snr_floor):
    """REC is SRC played through a resampler whose ratio wanders near 1:
    find the coarse lag, then per 20 ms block the fractional delay d
    (golden-section search of the error, the source shifted in the
    frequency domain: exact for this band-limited signal away from the
    window's edges) and the block's SNR. Holds when every |d| <= 2 frames
    (nothing lost or repeated: a lost packet moves d by 48), at least 95 %
    of the blocks reach snr_min dB and none is below snr_floor dB. Also
    reports how long the recording stays bit-exact from its start."""
    src = np.load(src_path).astype(float)
    rec, rbits = read_wav(rec_path)
    rec = rec.astype(float) / (1 << (rbits - bits))
    n = 1
    while n < len(src) + len(rec):
        n *= 2
    c = np.fft.irfft(np.fft.rfft(rec[:, 0], n) *
                     np.conj(np.fft.rfft(src[:, 0], n)), n)
    lag = int(np.argmax(c))
    if lag > n // 2:
        lag -= n
    if lag < 0 or lag + len(src) > len(rec):
        sys.exit(f"the signal is not all in the recording (lag {lag}, "
                 f"{len(rec)} frames recorded)")
    same = np.flatnonzero((rec[lag:lag + len(src)] != src).any(axis=1))
    exact_frames = same[0] if len(same) else len(src)
    blk, edge = RATE // 50, 64
    f = np.fft.rfftfreq(blk + 2 * edge)
    delays, snrs = [], []
    for s0 in range(2 * edge, len(src) - blk - 2 * edge + 1, blk):
        spec = np.fft.rfft(src[s0 - edge:s0 + blk + edge], axis=0)
        got = rec[lag + s0:lag + s0 + blk]

        def err(d):
            y = np.fft.irfft(spec * np.exp(-2j * np.pi * f * d)[:, None],
                             blk + 2 * edge, axis=0)[edge:edge + blk]
            return ((got - y) ** 2).sum(), y
        lo, hi = -2.5, 2.5
        for _ in range(40):
            m1, m2 = lo + (hi - lo) * 0.382, lo + (hi - lo) * 0.618
            if err(m1)[0] < err(m2)[0]:
                hi = m2
            else:
                lo = m1
        d = (lo + hi) / 2
        e, y = err(d)
        delays.append(d)
        snrs.append(10 * np.log10((y ** 2).sum() / max(e, 1e-12)))
    snrs, delays = np.array(snrs), np.array(delays)
    good = np.mean(snrs >= snr_min) * 100
    print(f"bit-exact for the first {exact_frames} of {len(src)} frames; "
          f"then resampled: 20 ms blocks {good:.0f} % >= {snr_min:g} dB, "
          f"median {np.median(snrs):.1f} dB, worst {snrs.min():.1f} dB; "
          f"delay {delays.min():+.2f}..{delays.max():+.2f} frames")
    if np.abs(delays).max() > 2.0:
        sys.exit("samples lost or repeated: the delay moved more than 2 "
                 "frames")
    if good < 95 or snrs.min() < snr_floor:
        sys.exit(f"below the floors ({snr_min:g} dB for 95 % of the "
                 f"blocks, {snr_floor:g} dB for every block)")


def main():
    a = sys.argv[1:]
    if a[:1] == ["gen"] and len(a) == 2:
        gen(a[1])
    elif a[:1] == ["exact"] and len(a) == 4:
        exact(int(a[1]), a[2], a[3])
    elif a[:1] == ["band"] and len(a) == 6:
        band(int(a[1]), a[2], a[3], float(a[4]), float(a[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
