#!/usr/bin/env python3
"""scripts/check-layers.py — fails when a host source includes from a layer above its own.

The host's folders are layers (docs/architecture.md, "Layers"), listed here top to bottom. A file
in host/src/LAYER/ may include "OTHER/x.hpp" only when OTHER is LAYER itself or below it; main.cpp
sits above them all. Every include of a host header must name its folder, so an include the
script cannot place is an error too. Run by CTest (test "layering") and so by CI.
Usage: scripts/check-layers.py [SOURCE_DIR]   (default: the checkout this script is in)
"""
import os
import re
import sys

LAYERS = ["server", "http", "proxy", "plugin_host", "cluster", "protocol", "policy", "base"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def rank(layer):
    return LAYERS.index(layer)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.path.join(root, "host", "src")
    problems = []
    checked = 0
    for folder, _dirs, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".hpp", ".cpp", ".h")):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, src)
            parts = relative.split(os.sep)
            own = parts[0] if len(parts) > 1 else None  # None: main.cpp, above every layer
            if own is not None and own not in LAYERS:
                problems.append(f"host/src/{relative}: folder '{own}' is not a layer; add it to "
                                f"LAYERS in scripts/check-layers.py and to docs/architecture.md")
                continue
            checked += 1
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    match = INCLUDE.match(line)
                    if not match:
                        continue
                    target = match.group(1)
                    layer = target.split("/")[0] if "/" in target else None
                    if layer not in LAYERS:
                        if os.path.exists(os.path.join(src, target)) or os.path.exists(os.path.join(folder, target)):
                            problems.append(f"host/src/{relative}:{number}: '#include \"{target}\"' "
                                            f"must name the header's layer folder (e.g. \"base/logger.hpp\")")
                        continue
                    if own is not None and rank(layer) < rank(own):
                        problems.append(f"host/src/{relative}:{number}: '{own}' includes "
                                        f"\"{target}\" from '{layer}', a layer above it "
                                        f"(order: {' > '.join(LAYERS)}); move the type it needs "
                                        f"down into a header of the layer that owns it")
    for p in problems:
        print(p)
    print(f"check-layers: {checked} files, {len(problems)} includes against the layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
