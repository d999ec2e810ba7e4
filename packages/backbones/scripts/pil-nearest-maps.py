"""Writes the source-pixel maps of Pillow's NEAREST resize that src/pil-nearest.test.ts checks against.

Keras `load_img` / `flow_from_directory` resize with `PIL.Image.NEAREST`. For each (input, output) size
pair this resizes a 32-bit image whose pixel values are their own coordinates (y * width + x) with Pillow
itself, checks that the result is separable (every output pixel is source[ymap[y]][xmap[x]]), and writes
one line per axis map: `<in> <out> <first> <steps>`, where `first` is the source index of output 0 and
`steps` the base-36 digits of the increments between consecutive output indices.

Run with a Python that has Pillow (Debian: python3-pil):
    python3 packages/backbones/scripts/pil-nearest-maps.py > packages/backbones/src/fixtures/pil-nearest-maps.txt
"""

import sys

import PIL
from PIL import Image

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

# Every pair of sizes 1..24 (down, up, equal), then the recipe's targets (150 for VGG16, 224 for
# MobileNet) from sizes photos come in and from tiny ones (upscaling), then a few large ratios.
SWEEP = [(i, o) for i in range(1, 25) for o in range(1, 25)]
TARGETS = [150, 224]
SOURCES = [1, 2, 3, 7, 10, 50, 75, 99, 100, 101, 123, 149, 150, 151, 175, 199, 200, 201, 224, 225,
           256, 299, 300, 320, 333, 374, 375, 400, 449, 450, 479, 480, 499, 500, 640, 1000, 1024]
EXTRA = [(1000, 1), (1000, 40), (4000, 150), (3, 1000), (150, 1000), (640, 480), (480, 640)]
PAIRS = SWEEP + [(s, t) for t in TARGETS for s in SOURCES] + EXTRA


def maps(in_w, in_h, out_w, out_h):
    """Pillow's NEAREST maps for both axes of one resize, checked to be separable."""
    src = Image.new("I", (in_w, in_h))
    src.putdata([y * in_w + x for y in range(in_h) for x in range(in_w)])
    out = src.resize((out_w, out_h), Image.NEAREST)
    values = list(out.getdata())
    xmap = [values[x] % in_w for x in range(out_w)]
    ymap = [values[y * out_w] // in_w for y in range(out_h)]
    for y in range(out_h):
        for x in range(out_w):
            if values[y * out_w + x] != ymap[y] * in_w + xmap[x]:
                raise SystemExit(f"{in_w}x{in_h} -> {out_w}x{out_h}: not separable at ({x}, {y})")
    return xmap, ymap


def encode(size_in, size_out, indices):
    steps = []
    for a, b in zip(indices, indices[1:]):
        if not 0 <= b - a < len(DIGITS):
            raise SystemExit(f"{size_in} -> {size_out}: step {b - a} does not fit one base-36 digit")
        steps.append(DIGITS[b - a])
    return f"{size_in} {size_out} {indices[0]} {''.join(steps)}"


def main():
    print(f"# Pillow {PIL.__version__} Image.resize(NEAREST) source index per output index, one axis per line:")
    print("# <in> <out> <first> <steps: base-36 increments>. Written by scripts/pil-nearest-maps.py.")
    # Two axis maps per Pillow call (x: this pair, y: the next one), so rectangles are covered too.
    for k in range(0, len(PAIRS), 2):
        rows = PAIRS[k + 1] if k + 1 < len(PAIRS) else PAIRS[k]
        xmap, ymap = maps(PAIRS[k][0], rows[0], PAIRS[k][1], rows[1])
        print(encode(*PAIRS[k], xmap))
        if k + 1 < len(PAIRS):
            print(encode(*rows, ymap))

if __name__ == "__main__":
    sys.exit(main())
