"""Pictures of a run: ``curves.png`` and prediction overlays on fixed validation crops.

``curves.png`` (matplotlib, Agg backend, no display needed) has three panels: the training
losses per level against the step (from ``log.csv``), the learning rate, and the validation
metric per epoch (from ``epochs.csv``). The overlays draw, on the same validation crops every
epoch, the ground-truth joints (green) and the model's decoded predictions with the skeleton
(red). Both are rewritten atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from danet_tf.atomic import atomic_write_bytes
from danet_tf.training.logs import read_csv_rows


def _floats(rows: list[dict[str, str]], key: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for r in rows:
        try:
            y = float(r.get(key, ""))
        except ValueError:
            continue
        xs.append(float(r["step"]))
        ys.append(y)
    return np.asarray(xs), np.asarray(ys)


def write_curves(workdir: Path, metric: str | None) -> Path:
    """Draw ``curves.png`` from the work directory's ``log.csv`` and ``epochs.csv``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    steps = read_csv_rows(workdir / "log.csv")
    epochs = read_csv_rows(workdir / "epochs.csv")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    loss_keys = [k for k in (steps[0] if steps else {}) if k.startswith("loss")]
    for key in loss_keys:
        x, y = _floats(steps, key)
        if len(x) and np.all(y > 0):
            axes[0].plot(x, y, label=key, lw=2.0 if key == "loss" else 1.0)
        elif len(x):
            axes[0].plot(x, y, label=key)
    if loss_keys and all(np.all(_floats(steps, k)[1] > 0) for k in loss_keys):
        axes[0].set_yscale("log")
    axes[0].set(title="training losses per level", xlabel="step")
    if loss_keys:
        axes[0].legend(fontsize=7)
    x, y = _floats(steps, "lr")
    axes[1].plot(x, y)
    axes[1].set(title="learning rate", xlabel="step")
    axes[1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if metric:
        ex, ey = [], []
        for r in epochs:
            try:
                ey.append(float(r.get(metric, "")))
                ex.append(int(float(r["epoch"])))
            except (ValueError, KeyError):
                continue
        axes[2].plot(ex, ey, "o-")
        axes[2].set(title=f"validation {metric}", xlabel="epoch")
    else:
        axes[2].set(title="no validation")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return atomic_write_bytes(workdir / "curves.png", buf.getvalue())


def overlay_grid(images: np.ndarray, gt: np.ndarray, pred: np.ndarray,
                 skeleton: tuple[tuple[int, int], ...] = (), scale: int = 2) -> np.ndarray:
    """(N, H, W, 3) RGB crops, ground truth (N, K, 3) and predictions (N, K, 2) in crop
    pixels -> one uint8 RGB picture: a legend line over (rows * H * scale, cols * W * scale)
    tiles. Ground truth: green rings; predictions: red dots joined by red limbs."""
    import cv2

    n = len(images)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    h, w = images.shape[1:3]
    H, W = h * scale, w * scale
    grid = np.zeros((rows * H, cols * W, 3), np.uint8)
    for i in range(n):
        tile = cv2.resize(np.clip(images[i], 0, 255).astype(np.uint8), (W, H),
                          interpolation=cv2.INTER_NEAREST)
        tile = np.ascontiguousarray(tile)
        labelled = gt[i, :, 2] > 0
        for a, b in skeleton:
            pa, pb = pred[i, a] * scale, pred[i, b] * scale
            cv2.line(tile, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), (255, 60, 60), 1,
                     cv2.LINE_AA)
        for k in range(gt.shape[1]):
            if labelled[k]:
                x, y = gt[i, k, :2] * scale
                cv2.circle(tile, (int(x), int(y)), 3, (0, 255, 0), 1, cv2.LINE_AA)
            x, y = pred[i, k] * scale
            cv2.circle(tile, (int(x), int(y)), 2, (255, 0, 0), -1, cv2.LINE_AA)
        r, c = divmod(i, cols)
        grid[r * H:(r + 1) * H, c * W:(c + 1) * W] = tile
    return np.concatenate([legend(grid.shape[1]), grid], axis=0)


def legend(width: int) -> np.ndarray:
    """A black strip saying which marks are which, as wide as the grid (text cut to fit)."""
    import cv2

    strip = np.zeros((18, width, 3), np.uint8)
    cv2.circle(strip, (8, 9), 4, (0, 255, 0), 1, cv2.LINE_AA)
    cv2.putText(strip, "ground truth", (16, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255),
                1, cv2.LINE_AA)
    cv2.circle(strip, (100, 9), 3, (255, 0, 0), -1, cv2.LINE_AA)
    cv2.putText(strip, "prediction", (108, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def write_png(path: Path, rgb: np.ndarray) -> Path:
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    return atomic_write_bytes(path, data.tobytes())
