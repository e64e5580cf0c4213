#!/usr/bin/env python3
"""Writes a bench bundle's config.json from the base config made by `runc spec`.

usage: config.py BASE OUT ROOTFS [--mem BYTES] -- ARG...

The base is kept as is (same namespaces, mounts, masked paths for every runtime); only
process.args, process.terminal, root.path (absolute, so bundles share one rootfs) and,
with --mem, linux.resources.memory.limit are set.
"""
import json
import sys


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    sep = argv.index("--")
    opts, args = argv[:sep], argv[sep + 1:]
    if len(opts) not in (3, 5) or not args:
        sys.exit(__doc__)
    base, out, rootfs = opts[:3]
    with open(base) as f:
        cfg = json.load(f)
    cfg["process"]["args"] = args
    cfg["process"]["terminal"] = False
    cfg["root"]["path"] = rootfs
    if len(opts) == 5:
        if opts[3] != "--mem":
            sys.exit(__doc__)
        res = cfg.setdefault("linux", {}).setdefault("resources", {})
        res.setdefault("memory", {})["limit"] = int(opts[4])
    with open(out, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
