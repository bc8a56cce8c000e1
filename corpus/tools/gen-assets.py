#!/usr/bin/env python3
"""gen-assets.py - writes the binary files of the corpus (corpus/README.md).

The files it writes are committed; this script documents how they were made
and remakes them.  Nothing is downloaded: every byte is written here or by a
local encoder.

  corpus/tools/gen-assets.py [--check]

  --check   write nothing; exit 1 if a committed file that is made
            byte-for-byte here (wasm, ELF, WAV, PNG) differs

Needs python3; the web font needs python3-fonttools and python3-brotli
(WOFF2), the video vpx-tools (vpxenc).  Both are only needed to remake them.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sites")


def wasm_add():
    """A WebAssembly module exporting add(i32, i32) -> i32 (41 bytes)."""
    return bytes(
        [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]          # magic, version 1
        + [0x01, 0x07, 0x01, 0x60, 0x02, 0x7F, 0x7F, 0x01, 0x7F]  # type: (i32 i32)->i32
        + [0x03, 0x02, 0x01, 0x00]                                # function 0 has type 0
        + [0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00]  # export "add" = func 0
        + [0x0A, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6A, 0x0B]  # a + b
    )


def elf_pause():
    """A static x86-64 Linux ELF that calls pause() for ever: it does
    nothing but exist as a running process until it is killed (129 bytes)."""
    code = bytes([0xB8, 0x22, 0x00, 0x00, 0x00,  # mov eax, 34 (pause)
                  0x0F, 0x05,                    # syscall
                  0xEB, 0xF7])                   # jmp back to mov
    base, ehsize, phsize = 0x400000, 64, 56
    total = ehsize + phsize + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, LE, v1, SysV
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, base + ehsize + phsize, ehsize, 0,
                             0, ehsize, phsize, 1, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)  # PT_LOAD R+X
    return eh + ph + code


def wav_tone():
    """Half a second of a 440 Hz square wave, 8 kHz, 8-bit mono PCM."""
    rate, n = 8000, 4000
    data = bytes(0xA0 if (i * 440 * 2 // rate) % 2 else 0x60 for i in range(n))
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + \
        struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def png(w, h, rgb):
    """A W x H PNG of one colour."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def exact_files():
    files = {
        "wasm.corpus.test/add.wasm": wasm_add(),
        "stage.corpus.test/bin/fontd": elf_pause(),
        "media.corpus.test/tone.wav": wav_tone(),
    }
    colours = [(200, 40, 40), (40, 160, 60), (40, 80, 200), (220, 180, 30), (120, 40, 160),
               (30, 170, 170), (240, 120, 20), (90, 90, 90)]
    for i, c in enumerate(colours):
        files["lazy.corpus.test/img/tile-%d.png" % i] = png(16, 16, c)
    return files


def webm_video(path):
    """1 s of 32x32 VP8 (10 frames of a moving bar), through vpxenc."""
    w, h, frames = 32, 32, 10
    with tempfile.TemporaryDirectory() as d:
        y4m = os.path.join(d, "in.y4m")
        with open(y4m, "wb") as f:
            f.write(b"YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n" % (w, h))
            for k in range(frames):
                y = bytes(235 if (x // 4) == k % 8 else 16 for _ in range(h) for x in range(w))
                f.write(b"FRAME\n" + y + bytes([128]) * (w * h // 2))
        subprocess.run(["vpxenc", "--quiet", "--codec=vp8", "--good", "--cpu-used=5",
                        "--target-bitrate=30", "--limit=%d" % frames, "-o", path, y4m],
                       check=True)


def woff2_font(path):
    """A font "CorpusBlocks" with glyphs for A-Z drawn as blocks, as WOFF2."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    names = [".notdef", "space"] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    glyphs, metrics = {}, {}
    for i, name in enumerate(names):
        pen = TTGlyphPen(None)
        if name != "space":
            top = 300 + (i * 37) % 400
            pen.moveTo((50, 0))
            pen.lineTo((50, top))
            pen.lineTo((450, top))
            pen.lineTo((450, 0))
            pen.closePath()
        glyphs[name] = pen.glyph()
        metrics[name] = (500, 50)
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({ord(" "): "space", **{ord(n): n for n in names[2:]}})
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "CorpusBlocks", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    fb.font.flavor = "woff2"
    fb.save(path)


def main():
    check = "--check" in sys.argv[1:]
    bad = 0
    for rel, data in sorted(exact_files().items()):
        path = os.path.join(TOP, rel)
        if check:
            with open(path, "rb") as f:
                if f.read() != data:
                    print("differs: " + rel)
                    bad = 1
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    if check:
        return bad
    os.chmod(os.path.join(TOP, "stage.corpus.test/bin/fontd"), 0o644)  # served, not run here
    if shutil.which("vpxenc"):
        webm_video(os.path.join(TOP, "media.corpus.test/clip.webm"))
    else:
        print("vpxenc missing (apt-get install vpx-tools): clip.webm not remade")
    try:
        woff2_font(os.path.join(TOP, "fonts.corpus.test/blocks.woff2"))
    except ImportError:
        print("fontTools missing (apt-get install python3-fonttools python3-brotli): "
              "blocks.woff2 not remade")
    return 0


if __name__ == "__main__":
    sys.exit(main())
