"""Score `nanlint graph` fp16-overflow predictions against truth/<model>.json (real-models bench).

Same scoring as the project's shared graph-fp16 eval (realworld/graph/score.py, from which this
is copied), on the pretrained models of models.json, with two additions: the timeout is 600 s
(NANLINT_TIMEOUT to change) and each nanlint run's peak resident memory is measured (the child's
own rusage, taken by a small wrapper interpreter that forks it, so neither score.py's memory nor
an earlier run leaks into it) and reported in MB and as a ratio to the model file's size, beside
two references measured the same way in the same run: an idle interpreter with numpy and
onnxruntime, and one plain onnxruntime inference of each model (README.md, section 4).

For each model in models.json runs
  $NANLINT graph MODEL --target cuda-fp16 --format json <nanlint_args>
(NANLINT defaults to `nanlint`), takes the tensors of NAN601/NAN701 findings (warning or
error severity; info is not a prediction) for target cuda-fp16, with the `cascade` each may
list, as the predicted overflow set, and compares it with the truth `overflow_fp16` set
(micro-averaged over models); other warning+ findings naming a truth tensor detect it too.
Predictions naming an `unscored` tensor (subgraph or unknown type) are ignored; any other
name outside the truth set is a false positive.
Exit 0 iff recall >= 0.95, precision >= 0.90, no error-severity overflow claim is false
(`false_errors`), every model was analysed (none failed or timed out) and the negative control
has no error-severity finding.  Usage: python score.py [MODEL_NAME ...]
"""

import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from common import HERE, load_models, make_inputs, model_bytes, sha256, time_inference

TARGET, CODES = "cuda-fp16", {"NAN601", "NAN701"}
TIMEOUT = float(os.environ.get("NANLINT_TIMEOUT", 600))
MIN_RECALL, MIN_PRECISION = 0.95, 0.90


# Runs the command as its own child and writes that child's peak RSS (KiB) to argv[1]. Linux
# carries a parent's RSS at fork time into the child's ru_maxrss, so the fork must happen in this
# small fresh interpreter, not in score.py (which holds onnxruntime sessions by then).
_RSS_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


# What any tool that runs the model pays: an interpreter with numpy and onnxruntime, one session with
# onnxruntime's defaults, and ONE inference on the feed saved in argv[2] (argv[1]: the model).
_ONE_INFERENCE = """
import sys
import numpy as np
import onnxruntime as ort
with np.load(sys.argv[2]) as data:
    feed = {name: data[name] for name in data.files}
ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"]).run(None, feed)
"""
_IDLE = "import numpy, onnxruntime"  # the interpreter with numpy and onnxruntime loaded, nothing else


def measured(argv, timeout=TIMEOUT):
    """Run argv as its own child: (stdout, stderr, returncode or None on timeout, wall s, peak RSS bytes or None)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, "-S", "-c", _RSS_WRAPPER, rss_file.name, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the wrapper's own session: it and its child
            p.communicate()
            return "", "", None, time.perf_counter() - t0, None
        wall = time.perf_counter() - t0
        text = rss_file.read().strip()
    return stdout, stderr, p.returncode, wall, int(text) * 1024 if text else None  # Linux reports KiB


def run_nanlint(cmd, model):
    """-> (findings or None, wall seconds, error message, peak RSS in bytes of the nanlint process or None)."""
    argv = cmd + ["graph", model["path"], "--target", TARGET, "--format", "json"] + model["nanlint_args"]
    stdout, stderr, code, wall, rss = measured(argv)
    if code is None:
        return None, wall, f"timeout after {TIMEOUT:.0f}s", None
    try:  # a linter may exit non-zero when it finds something: judge by the JSON
        return json.loads(stdout)["findings"], wall, None, rss
    except (ValueError, KeyError, TypeError):
        return None, wall, f"rc={code}, no JSON findings: {(stderr or stdout).strip()[-300:]!r}", rss


def one_inference_rss(model, feed):
    """Peak RSS (bytes) of a fresh process that loads the model in onnxruntime and runs it once on `feed`."""
    with tempfile.NamedTemporaryFile(suffix=".npz") as saved:
        np.savez(saved.name, **feed)
        _, stderr, code, _, rss = measured([sys.executable, "-c", _ONE_INFERENCE, model["path"], saved.name])
    if code != 0:
        raise RuntimeError(f"{model['name']}: the plain inference failed: {stderr.strip()[-300:]}")
    return rss


def idle_rss():
    """Peak RSS (bytes) of an interpreter that only imports numpy and onnxruntime (the median of three)."""
    return statistics.median(measured([sys.executable, "-c", _IDLE])[4] for _ in range(3))


def main():
    cmd = shlex.split(os.environ.get("NANLINT", "nanlint"))
    if not cmd or shutil.which(cmd[0]) is None:
        print("real-models-fp16: nanlint not installed")
        return 1
    tp = fp = fn = false_errors = 0
    ratios, mem_ratios, net_ratios, vs_inference, failed, neg_clean = [], [], [], [], [], True
    idle = idle_rss()
    print(f"idle interpreter with numpy + onnxruntime: {idle / 1e6:.1f} MB peak RSS")
    print(
        f"{'model':18s} {'truth':>5s} {'pred':>4s} {'tp':>3s} {'fp':>3s} {'fn':>3s} {'skip':>4s} "
        f"{'errors':>6s} {'nanlint_s':>9s} {'ort_ms':>8s} {'ratio':>8s} {'model_MB':>8s} {'peak_MB':>8s} {'mem_x':>6s} "
        f"{'net_x':>6s} {'inf_MB':>7s} {'inf_net_x':>9s} {'vs_inf':>6s}  note"
    )
    for model in load_models():
        if len(sys.argv) > 1 and model["name"] not in sys.argv[1:]:
            continue
        path = os.path.join(HERE, "truth", model["name"] + ".json")
        if not os.path.exists(path):
            print(f"real-models-fp16: {path} missing, run truth.py first")
            return 1
        with open(path) as f:
            truth = json.load(f)
        note = "" if truth["sha256"] == sha256(model["path"]) else "MODEL CHANGED since truth.py; "
        findings, wall, err, rss = run_nanlint(cmd, model)
        size = model_bytes(model)
        feed = make_inputs(model, np.random.default_rng(0))
        ort_s = time_inference(model["path"], feed)
        inference = one_inference_rss(model, feed)
        peak = rss or float("nan")
        net, inference_net, versus = (peak - idle) / size, (inference - idle) / size, peak / inference
        if rss:
            mem_ratios.append(rss / size)
            net_ratios.append(net)
            vs_inference.append(versus)
        findings = [f for f in findings or [] if isinstance(f, dict)]
        # An overflow finding names where the overflow starts (`tensor`) and may list the tensors
        # downstream that exceed the range because of it (`cascade`): both are predictions.
        # Any other warning+ finding that names a truth tensor (e.g. a naive-softmax NAN505 on
        # the exp it overflows) detects it too, but is not counted as a false overflow claim.
        live = [f for f in findings if f.get("severity") != "info" and f.get("target", TARGET) == TARGET]
        named = lambda f: ({f.get("tensor")} | set(f.get("cascade") or [])) - {None}
        pred = set().union(*(named(f) for f in live if f.get("code") in CODES))
        also = set().union(*(named(f) for f in live if f.get("code") not in CODES)) & set(truth["overflow_fp16"])
        true, skip = set(truth["overflow_fp16"]), (pred | also) & set(truth["unscored"])
        pred, also = pred - skip, also - skip
        m_tp, m_fp, m_fn = len((pred | also) & true), len(pred - true), len(true - pred - also)
        false_errors += len(
            {f.get("tensor") for f in live if f.get("code") in CODES and f.get("severity") == "error"}
            - true
            - set(truth["unscored"])
            - {None}
        )
        tp, fp, fn = tp + m_tp, fp + m_fp, fn + m_fn
        errors = sum(f.get("severity") == "error" for f in findings)
        if err:
            failed.append(model["name"])
            note += "FAILED: " + err
        else:
            ratios.append(wall / ort_s)
        if model.get("negative_control"):
            neg_clean = neg_clean and not err and errors == 0
            note += ("; " if note else "") + "negative control " + ("clean" if not err and errors == 0 else "NOT clean")
        for t in sorted(pred - true):
            note += f"\n    fp: {t}"
        for t in sorted(true - pred - also):
            note += f"\n    fn: {t}"
        print(
            f"{model['name']:18s} {len(true):5d} {len(pred):4d} {m_tp:3d} {m_fp:3d} {m_fn:3d} {len(skip):4d} "
            f"{errors:6d} {wall:9.2f} {ort_s * 1e3:8.3f} {wall / ort_s:8.1f} {size / 1e6:8.2f} "
            f"{peak / 1e6:8.1f} {peak / size:6.1f} {net:6.1f} {inference / 1e6:7.1f} {inference_net:9.1f} "
            f"{versus:6.2f}  {note}",
            flush=True,
        )
    recall = tp / (tp + fn) if tp + fn else 1.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    ratio = f"{statistics.median(ratios):.1f}" if ratios else "nan"
    mem = f"{statistics.median(mem_ratios):.1f}" if mem_ratios else "nan"
    mem_max = f"{max(mem_ratios):.1f}" if mem_ratios else "nan"
    net = f"{statistics.median(net_ratios):.1f} net_ratio_max={max(net_ratios):.1f}" if net_ratios else "nan"
    versus = (
        f"{statistics.median(vs_inference):.2f} vs_inference_max={max(vs_inference):.2f}" if vs_inference else "nan"
    )
    print(f"total: tp={tp} fp={fp} fn={fn} failed={len(failed)} {' '.join(failed)}")
    print(
        f"real-models-fp16: recall={recall:.3f} precision={precision:.3f} false_errors={false_errors} "
        f"failed={len(failed)} models={len(ratios) + len(failed)} "
        f"time_ratio_median={ratio} mem_ratio_median={mem} mem_ratio_max={mem_max} net_ratio_median={net} "
        f"vs_inference_median={versus} "
        f"negative_control={'clean' if neg_clean else 'dirty'}"
    )
    return (
        0
        if (recall >= MIN_RECALL and precision >= MIN_PRECISION and neg_clean and not false_errors and not failed)
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
