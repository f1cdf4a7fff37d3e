#!/usr/bin/env bash
# Prove the edge distribution (tflite/, `danet-edge`) on Debian arm64 under qemu-user emulation.
#
#   sudo tools/check_arm64.sh            # as root: debootstrap, chroot and mounts need it
#
# What it does:
#   1. builds (once, cached) a Debian bookworm arm64 userland with debootstrap and
#      qemu-user-static, registering the aarch64 binfmt handler when it is missing;
#   2. in that userland (chroot) creates a venv (cached) and pip-installs danet-edge from a
#      copy of tflite/ (numpy, opencv-python-headless and ai-edge-litert aarch64 wheels come
#      from PyPI); an x86 edge venv gets the same pinned versions;
#   3. exports small DANet models on x86 (random weights) to float32 and int8 .tflite with
#      tools/export.py, runs `danet-estimate --json` on the same real image and boxes on x86
#      and arm64, dumps raw heatmaps of the same fixed crops on both, and compares them;
#   4. prints a markdown table, writes $OUT/report.json and $OUT/report.md, and exits 1
#      when a model differs beyond its bounds (float32: 1e-4 heatmap, 0.5 px; int8: below).
#
# Environment (all optional):
#   DANET_ARM64_ROOT     userland dir        (default $HOME/.cache/danet_tf/arm64-bookworm)
#   OUT                  report dir          (default <repo>/work_dirs/arm64)
#   DANET_ARM64_MODELS   "name:HxW:quant[,quant] ..."
#                        (default "danet_tiny:128x96:none,int8 danet72:256x192:none")
#   DANET_HOST_PYTHON    python with danet_tf + TensorFlow, for the export (<repo>/.venv)
#   DANET_X86_BASE_PYTHON python3 that makes the x86 edge venv (default python3)
#   DANET_X86_EDGE_VENV  x86 edge venv      (default ${TMPDIR:-/tmp}/danet-edge-x86-venv)
#   DANET_DATA           real data root with coco_sample/ (default <repo>/../shared/data)
#   DANET_ARM64_MIRROR   Debian mirror       (default http://deb.debian.org/debian)
#   DANET_ARM64_REUSE_MODELS=1  reuse exported models in $OUT/models instead of re-exporting
#
# Timings under emulation are not speeds: qemu translates every instruction.
set -euo pipefail

die() { echo "check_arm64: error: $*" >&2; exit 2; }
log() { echo "check_arm64: $*" >&2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${DANET_ARM64_ROOT:-$HOME/.cache/danet_tf/arm64-bookworm}
OUT=${OUT:-$REPO/work_dirs/arm64}
MODELS=${DANET_ARM64_MODELS:-"danet_tiny:128x96:none,int8 danet72:256x192:none"}
HOST_PY=${DANET_HOST_PYTHON:-$REPO/.venv/bin/python}
BASE_PY=${DANET_X86_BASE_PYTHON:-python3}
X86_VENV=${DANET_X86_EDGE_VENV:-${TMPDIR:-/tmp}/danet-edge-x86-venv}
DATA=${DANET_DATA:-$REPO/../shared/data}
MIRROR=${DANET_ARM64_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
ANN=$DATA/coco_sample/val4.json        # the image and boxes compared
CALIB=$DATA/coco_sample/train.json     # int8 calibration and export verification crops
IMAGES=$DATA/coco_sample/images

# Bounds (x86 vs arm64, same file, same inputs, one thread).
#   float32: XNNPACK's x86 and NEON kernels sum in different orders, so outputs agree to
#     rounding: max |heatmap diff| <= 1e-4 and keypoints within 0.5 px.
#   int8: the x86 and ARM int8 kernels requantize differently (whole output steps), so an
#     int8 file is not the same function on both: each side is its own int8 approximation of
#     the float32 model. The bound is therefore relative to what int8 costs on x86 (the int8
#     file against the float32 file of the same weights, which every int8 spec must also
#     export): max |heatmap diff x86 vs arm64| <= INT8_REL x max |int8 - float32| on x86, and
#     the arm64 int8 keypoints no further from the float32 ones (median px) than
#     INT8_REL x the x86 int8 keypoints' median + 0.5 px.
F32_HEAT=1e-4 F32_PX=0.5
INT8_REL=${DANET_ARM64_INT8_REL:-1.5}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount); try: sudo $0"
[ -x "$HOST_PY" ] || die "no host python with danet_tf at $HOST_PY (set DANET_HOST_PYTHON)"
for f in "$ANN" "$CALIB" "$IMAGES"; do
    [ -e "$f" ] || die "real data missing: $f (set DANET_DATA to the dir holding coco_sample/)"
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(realpath -m "$ROOT")
# One run at a time on a userland (taken before anything is cleared or mounted).
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -n 9 || die "another check_arm64 run holds $ROOT.lock"
WORK=$OUT/work
rm -rf "$WORK" "$OUT/x86" "$OUT/arm64"
mkdir -p "$WORK" "$OUT/x86" "$OUT/arm64" "$OUT/models"
TIMINGS=$OUT/timings.tsv
: >"$TIMINGS"
now() { date +%s.%N; }
record() { awk -v a="$2" -v b="$(now)" -v n="$1" 'BEGIN { printf "%s\t%.1f\n", n, b - a }' >>"$TIMINGS"; }

# -- tools --------------------------------------------------------------------------------
if ! command -v debootstrap >/dev/null || ! command -v qemu-aarch64-static >/dev/null \
    || ! command -v update-binfmts >/dev/null; then
    log "installing debootstrap, qemu-user-static, binfmt-support with apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap qemu-user-static binfmt-support
fi

# -- aarch64 binfmt handler -----------------------------------------------------------------
BINFMT=/proc/sys/fs/binfmt_misc/qemu-aarch64
if [ ! -e "$BINFMT" ]; then
    log "registering the aarch64 binfmt handler"
    mountpoint -q /proc/sys/fs/binfmt_misc \
        || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || die "cannot mount binfmt_misc (a container may need --privileged)"
    update-binfmts --enable qemu-aarch64 || die "update-binfmts --enable qemu-aarch64 failed"
fi
if [ ! -e "$BINFMT" ] || [ "$(head -1 "$BINFMT")" != enabled ]; then
    die "the aarch64 binfmt handler is not enabled ($BINFMT)"
fi
INTERP=$(sed -n 's/^interpreter //p' "$BINFMT")
FLAGS=$(sed -n 's/^flags: //p' "$BINFMT")

# -- mounts always undone ------------------------------------------------------------------
MOUNTS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    MOUNTS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- 1. userland ---------------------------------------------------------------------------
if [ ! -x "$ROOT/usr/bin/python3" ]; then
    log "building the $SUITE arm64 userland in $ROOT.partial (about 8 minutes)"
    t=$(now)
    rm -rf "$ROOT.partial"
    debootstrap --arch=arm64 --variant=minbase \
        --include=python3,python3-venv,python3-pip,ca-certificates \
        "$SUITE" "$ROOT.partial" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $OUT/debootstrap.log"
    mv "$ROOT.partial" "$ROOT"
    record userland_build "$t"
else
    log "userland: cached $ROOT"
fi
case $FLAGS in
    *F*) ;;  # the kernel opened the interpreter at registration; nothing in the chroot
    *) mkdir -p "$ROOT$(dirname "$INTERP")" && cp -f "$INTERP" "$ROOT$INTERP" ;;
esac
cp -fL /etc/resolv.conf "$ROOT/etc/resolv.conf"
# The host's CA bundle (with any local or proxy CA it trusts) for pip in the chroot.
cp -fL "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$ROOT/etc/ssl/certs/host-ca-bundle.crt"
for m in proc dev; do
    mountpoint -q "$ROOT/$m" && continue
    if [ "$m" = proc ]; then mount -t proc proc "$ROOT/proc"; else mount --bind /dev "$ROOT/dev"; fi
    MOUNTS+=("$ROOT/$m")
done
[ "$(chroot "$ROOT" /usr/bin/uname -m)" = aarch64 ] || die "the chroot does not run aarch64"

in_chroot() {
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PIP_DEFAULT_TIMEOUT=180 \
        PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt SSL_CERT_FILE=/etc/ssl/certs/host-ca-bundle.crt \
        PATH=/opt/danet-edge/venv/bin:/usr/local/bin:/usr/bin:/bin "$@"
}

# -- 2. edge venv on arm64 (cached) and on x86 (same versions) ------------------------------
SRC=$ROOT/opt/danet-edge/src
rm -rf "$SRC"
mkdir -p "$SRC"
# Both sides install from a clean copy of tflite/ (pip builds in it; the repo stays untouched).
XSRC=$WORK/tflite-src
mkdir -p "$XSRC"
tar -C "$REPO/tflite" --exclude='*.egg-info' --exclude=__pycache__ --exclude=build \
    -cf - . | tar -C "$XSRC" -xf -
cp -a "$XSRC/." "$SRC/"
# The venv is rebuilt when the declared dependencies change (not on other pyproject edits).
STAMP=$("$HOST_PY" -c 'import json, sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(json.dumps([p.get("requires-python"), p["dependencies"]]))' "$REPO/tflite/pyproject.toml" \
    | sha256sum | cut -c1-16)
AVENV=$ROOT/opt/danet-edge/venv
if [ "$(cat "$AVENV/.danet-deps" 2>/dev/null)" != "$STAMP" ]; then
    log "arm64: creating the edge venv and installing its dependencies from PyPI"
    t=$(now)
    rm -rf "$AVENV"
    in_chroot python3 -m venv /opt/danet-edge/venv
    in_chroot pip install -q --disable-pip-version-check /opt/danet-edge/src \
        >"$OUT/arm64/pip.log" 2>&1 || die "pip install in the chroot failed; see $OUT/arm64/pip.log"
    echo "$STAMP" >"$AVENV/.danet-deps"
    record arm64_pip_install "$t"
fi
t=$(now)
in_chroot pip install -q --disable-pip-version-check --no-deps --force-reinstall \
    /opt/danet-edge/src >>"$OUT/arm64/pip.log" 2>&1 \
    || die "pip install danet-edge in the chroot failed; see $OUT/arm64/pip.log"
record arm64_reinstall_danet_edge "$t"
in_chroot pip freeze --disable-pip-version-check --exclude danet-edge >"$OUT/constraints.txt"

XSTAMP=$({ echo "$STAMP"; cat "$OUT/constraints.txt"; } | sha256sum | cut -c1-16)
if [ "$(cat "$X86_VENV/.danet-deps" 2>/dev/null)" != "$XSTAMP" ]; then
    log "x86: creating the edge venv $X86_VENV with the arm64 versions"
    t=$(now)
    rm -rf "$X86_VENV"
    "$BASE_PY" -m venv "$X86_VENV"
    "$X86_VENV/bin/pip" install -q --disable-pip-version-check -c "$OUT/constraints.txt" \
        "$XSRC" >"$OUT/x86/pip.log" 2>&1 || die "x86 pip install failed; see $OUT/x86/pip.log"
    echo "$XSTAMP" >"$X86_VENV/.danet-deps"
    record x86_pip_install "$t"
fi
"$X86_VENV/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall \
    "$XSRC" >>"$OUT/x86/pip.log" 2>&1 || die "x86 pip install danet-edge failed"

# -- helper scripts (run on both sides) -----------------------------------------------------
cat >"$WORK/pick.py" <<'EOF'
"""The first image of a COCO json with >= 2 persons with keypoints: its 2 largest boxes."""
import json, sys
ann = json.load(open(sys.argv[1]))
persons = {}
for a in ann["annotations"]:
    if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0):
        persons.setdefault(a["image_id"], []).append(a["bbox"])
for im in ann["images"]:
    boxes = sorted(persons.get(im["id"], []), key=lambda b: -b[2] * b[3])[:2]
    if len(boxes) == 2:
        print(json.dumps({"image": im["file_name"], "boxes": [[round(v, 1) for v in b] for b in boxes]}))
        break
else:
    sys.exit("no image with two persons")
EOF
cat >"$WORK/dump.py" <<'EOF'
"""dump.py MODEL IMAGE INPUT_JSON OUTDIR [CROPS.npy]: raw heatmaps of fixed crops.

Writes OUTDIR/crops.npy (this side's crops of the boxes), heatmaps.npy (the model on CROPS.npy
when given, else on this side's crops; no flip test), keypoints.npy / scores.npy (decoded,
full precision) and invoke.json (one invoke per crop, wall ms, with the versions)."""
import json, platform, sys, time
from importlib.metadata import version
from pathlib import Path
import numpy as np
from danet_edge.images import load_image
from danet_edge.metadata import read_metadata
from danet_edge.runners import LiteRTModel
from danet_edge.topdown import TopDownPredictor

model_path, image_path, input_json, out = sys.argv[1:5]
out = Path(out)
boxes = json.load(open(input_json))["boxes"]
meta = read_metadata(model_path)
model = LiteRTModel(model_path, num_threads=1, metadata=meta)
pred = TopDownPredictor.from_metadata(model, meta, flip_test=False)
rgb = load_image(image_path, rgb=True)
regions = [pred.region(b) for b in boxes]
crops = np.stack([pred.crop(rgb, c, s) for c, s in regions])
np.save(out / "crops.npy", crops)
fixed = np.load(sys.argv[5]) if len(sys.argv) > 5 else crops
maps, ms = [], []
for crop in fixed:
    t = time.perf_counter()
    maps.append(model(crop[None]))
    ms.append((time.perf_counter() - t) * 1e3)
maps = np.concatenate(maps)
kpts, scores = pred.decode(maps, [c for c, _ in regions], [s for _, s in regions])
np.save(out / "heatmaps.npy", maps)
np.save(out / "keypoints.npy", kpts)
np.save(out / "scores.npy", scores)
step = None  # an int8 file's heatmap step: the scale of the tensor its last DEQUANTIZE reads
try:
    for op in model.interpreter._get_ops_details():
        if op["op_name"] == "DEQUANTIZE" and model.output["index"] in list(op["outputs"]):
            q = model.interpreter._get_tensor_details(int(op["inputs"][0]), 0)["quantization"]
            step = float(q[0])
except Exception:  # private LiteRT API; the step is only for the report
    pass
versions = {p: version(p) for p in ("danet-edge", "ai-edge-litert", "numpy", "opencv-python-headless")}
json.dump({"invoke_ms": ms, "output_step": step, "machine": platform.machine(), "python": platform.python_version(),
           "versions": versions}, open(out / "invoke.json", "w"), indent=1)
EOF
cat >"$WORK/compare.py" <<'EOF'
"""compare.py OUT: the x86 vs arm64 table, report.json and report.md."""
import json, sys
from pathlib import Path
import numpy as np

out = Path(sys.argv[1])
cfg = json.loads((out / "work" / "config.json").read_text())
rows, ok_all = [], True
for name in cfg["models"]:
    x, a = out / "x86" / name, out / "arm64" / name
    quant = cfg["quant"][name]
    hx, ha = np.load(x / "heatmaps.npy"), np.load(a / "heatmaps.npy")
    kx, ka = np.load(x / "keypoints.npy"), np.load(a / "keypoints.npy")
    sx, sa = np.load(x / "scores.npy"), np.load(a / "scores.npy")
    cx, ca = np.load(x / "crops.npy"), np.load(a / "crops.npy")
    jx, ja = (json.loads((d / "estimate.json").read_text()) for d in (x, a))
    cli_px, cli_conf = 0.0, 0.0
    for px, pa in zip(jx["persons"], ja["persons"], strict=True):
        for k, (u, v, s) in px["keypoints"].items():
            u2, v2, s2 = pa["keypoints"][k]
            cli_px = max(cli_px, float(np.hypot(u - u2, v - v2)))
            cli_conf = max(cli_conf, abs(s - s2))
    heat = float(np.abs(hx - ha).max())
    raw_all = np.hypot(*(kx - ka).reshape(-1, 2).T)
    raw_px = float(raw_all.max())
    row = {
        "model": name, "quantization": quant,
        "verified_export": jx["model"].get("verified"),
        "crops": int(len(hx)), "heatmap_shape": list(hx.shape[1:]),
        "heatmap_max": float(np.abs(hx).max()),
        "max_heatmap_diff": heat,
        "heatmap_cells_differing": int((hx != ha).sum()), "heatmap_cells": int(hx.size),
        "max_keypoint_diff_px_raw": raw_px,
        "max_score_diff_raw": float(np.abs(sx - sa).max()),
        "max_keypoint_diff_px_cli": cli_px,
        "max_confidence_diff_cli": cli_conf,
        "median_keypoint_diff_px_raw": float(np.median(raw_all)),
        "keypoints_within_0.5px_raw": float(np.mean(raw_all <= 0.5)),
        "max_crop_diff": float(np.abs(cx - ca).max()),
        "emulated_invoke_ms_arm64": json.loads((a / "invoke.json").read_text())["invoke_ms"],
        "invoke_ms_x86": json.loads((x / "invoke.json").read_text())["invoke_ms"],
    }
    step = json.loads((x / "invoke.json").read_text()).get("output_step")
    if step:
        row["output_step"] = step
        row["max_heatmap_diff_steps"] = round(heat / step, 2)
    sib = cfg["sibling"].get(name)
    if sib is None:  # float32
        b = cfg["bounds"]["float32"]
        row["bounds"] = {"heatmap": b["heatmap"], "px": b["px"]}
        row["passed"] = heat <= b["heatmap"] and max(raw_px, cli_px) <= b["px"]
    else:  # int8: relative to what int8 costs on x86 (int8 file vs float32 file, x86)
        rel = cfg["bounds"]["int8_relative"]
        f = out / "x86" / sib
        kf = np.load(f / "keypoints.npy")
        q_x86 = np.hypot(*(kx - kf).reshape(-1, 2).T)
        q_arm = np.hypot(*(ka - kf).reshape(-1, 2).T)
        q_heat = float(np.abs(hx - np.load(f / "heatmaps.npy")).max())
        row["int8_vs_float32"] = {
            "max_heatmap_diff_x86": q_heat,
            "max_heatmap_diff_arm64": float(np.abs(ha - np.load(f / "heatmaps.npy")).max()),
            "median_keypoint_px_x86": float(np.median(q_x86)),
            "median_keypoint_px_arm64": float(np.median(q_arm)),
            "max_keypoint_px_x86": float(q_x86.max()),
            "max_keypoint_px_arm64": float(q_arm.max()),
        }
        row["bounds"] = {"heatmap": rel * q_heat, "median_px_vs_float32": rel * float(np.median(q_x86)) + 0.5}
        row["passed"] = heat <= row["bounds"]["heatmap"] and float(np.median(q_arm)) <= row["bounds"]["median_px_vs_float32"]
    ok_all &= row["passed"]
    rows.append(row)
vx = json.loads((out / "x86" / cfg["models"][0] / "invoke.json").read_text())
va = json.loads((out / "arm64" / cfg["models"][0] / "invoke.json").read_text())
timings = dict(line.split("\t") for line in (out / "timings.tsv").read_text().splitlines())
report = {"passed": ok_all, "image": cfg["image"], "boxes": cfg["boxes"], "rows": rows,
          "x86": vx, "arm64": va, "platform": cfg["platform"], "sizes": cfg["sizes"],
          "timings_s": {k: float(v) for k, v in timings.items()}, "command": cfg["command"],
          "bounds": cfg["bounds"]}
(out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
lines = [
    "| model (weights, quantization) | max \\|heatmap diff\\| x86 vs arm64 | heatmap max | cells differing "
    "| keypoints x86 vs arm64, px: max raw / max CLI / median raw "
    "| int8 vs float32, x86 / arm64: max \\|heatmap diff\\|; median px "
    "| max crop diff | emulated invoke, s (not a speed) | bound | result |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for r in rows:
    inv = np.mean(r["emulated_invoke_ms_arm64"]) / 1e3
    heat = f"{r['max_heatmap_diff']:.3g}"
    if "max_heatmap_diff_steps" in r:
        heat += f" ({r['max_heatmap_diff_steps']:g} output steps)"
    q = r.get("int8_vs_float32")
    qs = "" if q is None else (
        f"{q['max_heatmap_diff_x86']:.3g} / {q['max_heatmap_diff_arm64']:.3g}; "
        f"{q['median_keypoint_px_x86']:.2f} / {q['median_keypoint_px_arm64']:.2f}")
    b = r["bounds"]
    bound = (f"{b['heatmap']:g}; {b['px']:g} px" if "px" in b else
             f"{b['heatmap']:.3g}; median {b['median_px_vs_float32']:.2f} px vs float32")
    lines.append(
        f"| {r['model']} | {heat} | {r['heatmap_max']:.3g} "
        f"| {r['heatmap_cells_differing']} / {r['heatmap_cells']} "
        f"| {r['max_keypoint_diff_px_raw']:.3g} / {r['max_keypoint_diff_px_cli']:.3g} / "
        f"{r['median_keypoint_diff_px_raw']:.3g} | {qs} "
        f"| {r['max_crop_diff']:.3g} | {inv:.1f} | {bound} | {'pass' if r['passed'] else 'FAIL'} |"
    )
table = "\n".join(lines)
(out / "report.md").write_text(table + "\n")
print(table)
print()
print(f"x86: {vx['versions']} (python {vx['python']}); arm64: {va['versions']} (python {va['python']})")
print("timings (s, emulated steps are not speeds):", report["timings_s"])
print("venv sizes (MiB):", cfg["sizes"])
sys.exit(0 if ok_all else 1)
EOF

"$HOST_PY" "$WORK/pick.py" "$ANN" >"$WORK/input.json"
IMAGE_NAME=$("$HOST_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["image"])' "$WORK/input.json")
BOXES=$("$HOST_PY" -c 'import json,sys; print(" ".join("--box=" + ",".join(f"{v:g}" for v in b) for b in json.load(open(sys.argv[1]))["boxes"]))' "$WORK/input.json")
read -r -a BOX_ARGS <<<"$BOXES"
cp "$IMAGES/$IMAGE_NAME" "$WORK/image.jpg"
CWORK=$ROOT/opt/danet-edge/check
rm -rf "$CWORK"
mkdir -p "$CWORK"
cp "$WORK/dump.py" "$WORK/input.json" "$WORK/image.jpg" "$CWORK/"

# -- 3. export on x86, run on both sides ---------------------------------------------------
NAMES=()
declare -A QUANT
# The repo first on the path: its packages as they are now, even when the venv's editable
# install predates one of them.
PYPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
declare -A SIBLING  # int8 model -> the float32 model of the same weights, when both run
for spec in $MODELS; do
    IFS=: read -r model size quants weights <<<"$spec"
    if [ -z "$model" ] || [ -z "$size" ] || [ -z "$quants" ]; then
        die "bad model spec '$spec' (name:HxW:quant[,quant][:weights.keras])"
    fi
    if [ -n "$weights" ]; then
        [ -f "$weights" ] || die "weights not found: $weights (model spec '$spec')"
        tag=$(basename "$weights" | sed 's/\.[^.]*$//; s/[^A-Za-z0-9_]/_/g')
        src=$(realpath "$weights")
    else
        # Random weights, seeded, saved once: the float32 and int8 files share them.
        tag=random0
        src=$OUT/models/$model-$size-$tag.keras
        if [ "${DANET_ARM64_REUSE_MODELS:-0}" != 1 ] || [ ! -s "$src" ]; then
            PYTHONPATH=$PYPATH TF_CPP_MIN_LOG_LEVEL=2 "$HOST_PY" - "$model" "$size" "$src" >"$src.log" 2>&1 <<'PY' \
                || die "cannot build $model $size; see $src.log"
import sys
import keras
import danet_tf
name, size, path = sys.argv[1:]
h, w = (int(v) for v in size.split("x"))
keras.utils.set_random_seed(0)
danet_tf.build_model(name, input_shape=(h, w, 3)).save(path)
PY
        fi
    fi
    for q in ${quants//,/ }; do
        name="$model-$size-$tag-$q"
        if [ "$q" != none ]; then
            case ",$quants," in
                *,none,*) SIBLING[$name]="$model-$size-$tag-none" ;;
                *) die "model spec '$spec': $q is compared relative to float32; add none" ;;
            esac
        fi
        file=$OUT/models/$name.tflite
        if [ "${DANET_ARM64_REUSE_MODELS:-0}" = 1 ] && [ -s "$file" ]; then
            log "export: reusing $file"
        else
            log "export: $name (x86, weights $tag)"
            t=$(now)
            PYTHONPATH=$PYPATH TF_CPP_MIN_LOG_LEVEL=2 "$HOST_PY" "$REPO/tools/export.py" --model "$model" \
                --weights "$src" --input-size "$size" --format tflite --quantize "$q" \
                --calib-data "$CALIB" --images "$IMAGES" --output "$file" --allow-unverified \
                >"$OUT/models/$name.export.log" 2>&1 \
                || die "export of $name failed; see $OUT/models/$name.export.log"
            record "export_$name" "$t"
        fi
        NAMES+=("$name")
        QUANT[$name]=$q
        mkdir -p "$OUT/x86/$name" "$OUT/arm64/$name" "$CWORK/$name"
        cp "$file" "$CWORK/$name/model.tflite"

        log "$name: x86"
        "$X86_VENV/bin/danet-estimate" "$file" "$WORK/image.jpg" "${BOX_ARGS[@]}" --json \
            --no-detector --threads 1 >"$OUT/x86/$name/estimate.json" 2>"$OUT/x86/$name/estimate.err" \
            || die "x86 danet-estimate failed on $name; see $OUT/x86/$name/estimate.err"
        "$X86_VENV/bin/python" "$WORK/dump.py" "$file" "$WORK/image.jpg" "$WORK/input.json" \
            "$OUT/x86/$name" 2>"$OUT/x86/$name/dump.err" || die "x86 dump failed on $name"
        cp "$OUT/x86/$name/crops.npy" "$CWORK/$name/fixed_crops.npy"

        log "$name: arm64 (emulated)"
        t=$(now)
        in_chroot danet-estimate "/opt/danet-edge/check/$name/model.tflite" \
            /opt/danet-edge/check/image.jpg "${BOX_ARGS[@]}" --json --no-detector --threads 1 \
            >"$OUT/arm64/$name/estimate.json" 2>"$OUT/arm64/$name/estimate.err" \
            || die "arm64 danet-estimate failed on $name; see $OUT/arm64/$name/estimate.err"
        record "arm64_estimate_$name" "$t"
        t=$(now)
        in_chroot python /opt/danet-edge/check/dump.py "/opt/danet-edge/check/$name/model.tflite" \
            /opt/danet-edge/check/image.jpg /opt/danet-edge/check/input.json \
            "/opt/danet-edge/check/$name" "/opt/danet-edge/check/$name/fixed_crops.npy" \
            2>"$OUT/arm64/$name/dump.err" || die "arm64 dump failed on $name; see $OUT/arm64/$name/dump.err"
        record "arm64_dump_$name" "$t"
        cp "$CWORK/$name"/{crops,heatmaps,keypoints,scores}.npy "$CWORK/$name/invoke.json" "$OUT/arm64/$name/"
    done
done

# -- 4. sizes, platform, report --------------------------------------------------------------
mib() { du -sm "$1" | cut -f1; }
pkg_mib() {  # venv, package name prefixes: MiB of their site-packages entries
    local sp p files=()
    sp=$(echo "$1"/lib/python3*/site-packages)
    shift
    for p in "$@"; do files+=("$sp/$p"*); done
    { du -scm "${files[@]}" 2>/dev/null || true; } | tail -1 | cut -f1
}
SIZES="{\"arm64_venv\": $(mib "$AVENV"), \"x86_venv\": $(mib "$X86_VENV")"
for side in arm64 x86; do
    v=$AVENV; [ $side = x86 ] && v=$X86_VENV
    SIZES+=", \"${side}_ai_edge_litert\": $(pkg_mib "$v" ai_edge_litert)"
    SIZES+=", \"${side}_opencv\": $(pkg_mib "$v" cv2 opencv_python_headless)"
    SIZES+=", \"${side}_numpy\": $(pkg_mib "$v" numpy)"
done
SIZES+="}"
QEMU=$(qemu-aarch64-static --version | head -1)
DEBIAN=$(cat "$ROOT/etc/debian_version")
"$HOST_PY" - "$WORK/config.json" "$SIZES" "$QEMU" "$DEBIAN" "$F32_HEAT" "$F32_PX" \
    "$INT8_REL" "${NAMES[@]}" <<EOF
import json, sys
path, sizes, qemu, debian, fh, fp, rel, *names = sys.argv[1:]
inp = json.load(open("$WORK/input.json"))
json.dump({"models": names, "sibling": {$(for n in "${!SIBLING[@]}"; do printf '"%s": "%s", ' "$n" "${SIBLING[$n]}"; done)},
           "quant": {$(for n in "${NAMES[@]}"; do printf '"%s": "%s", ' "$n" "${QUANT[$n]}"; done)},
           "image": inp["image"], "boxes": inp["boxes"],
           "bounds": {"float32": {"heatmap": float(fh), "px": float(fp)}, "int8_relative": float(rel)},
           "sizes": json.loads(sizes),
           "platform": {"qemu": qemu, "debian": debian, "suite": "$SUITE"},
           "command": "sudo tools/check_arm64.sh  # DANET_ARM64_MODELS='$MODELS'"},
          open(path, "w"), indent=1)
EOF
cleanup
"$X86_VENV/bin/python" "$WORK/compare.py" "$OUT"
