"""Pillow's side of test/bench/pil-resize-agreement.ts (run by it; needs Pillow, Debian: python3-pil).

Reads a manifest JSON (argv[1]): {"targets": [[w, h], ...], "items": [{"jpeg", "raw", "width", "height"}],
"pairs": [[in, out], ...]}. For every item and target it writes, as raw RGB bytes:
  <raw>.<w>x<h>.same   Image.resize(NEAREST) of the pixels sharp decoded (`raw`): the resize alone;
  <raw>.<w>x<h>.keras  Keras load_img(target_size, interpolation='nearest'): Pillow decodes the JPEG,
                       converts to RGB and resizes with NEAREST: decoder differences included.
and <manifest>.maps.json: Pillow's source index per output index for every [in, out] pair.
"""

import json
import sys

from PIL import Image


def axis_map(size_in, size_out):
    src = Image.new("I", (size_in, 1))
    src.putdata(list(range(size_in)))
    return list(src.resize((size_out, 1), Image.NEAREST).getdata())


def main(manifest_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    for item in manifest["items"]:
        with open(item["raw"], "rb") as f:
            decoded = Image.frombytes("RGB", (item["width"], item["height"]), f.read())
        keras = Image.open(item["jpeg"])
        if keras.mode != "RGB":
            keras = keras.convert("RGB")
        for w, h in manifest["targets"]:
            for name, img in (("same", decoded), ("keras", keras)):
                out = img if img.size == (w, h) else img.resize((w, h), Image.NEAREST)
                with open(f"{item['raw']}.{w}x{h}.{name}", "wb") as f:
                    f.write(out.tobytes())
    maps = {f"{i}->{o}": axis_map(i, o) for i, o in manifest["pairs"]}
    with open(f"{manifest_path}.maps.json", "w") as f:
        json.dump(maps, f)


if __name__ == "__main__":
    main(sys.argv[1])
