"""Frame and classification metrics for the benchmark, on uint8 frames (..., H, W, 3).

Frames may be numpy arrays or torch tensors; every function returns numpy. PSNR and SSIM
are per frame (the leading dimensions are kept), so callers can average them however the
report needs (per step of a rollout, per episode, overall).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

MAX_VALUE = 255.0


def _as_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _check_pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_numpy(a), _as_numpy(b)
    if a.shape != b.shape or a.ndim < 3 or a.shape[-1] != 3:
        raise ValueError(f"expected two frame arrays of the same shape (..., H, W, 3), got {a.shape} and {b.shape}")
    return a, b


# --- image metrics --------------------------------------------------------------------------
def psnr(a, b) -> np.ndarray:
    """Per-frame PSNR in dB for 8-bit frames (peak 255); inf where the frames are identical."""
    a, b = _check_pair(a, b)
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = (diff ** 2).reshape(*a.shape[:-3], -1).mean(-1)
    with np.errstate(divide="ignore"):  # mse == 0 -> inf, which is the right answer
        return 10.0 * np.log10(MAX_VALUE ** 2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]  # (size, size), sums to 1


def ssim(a, b, batch: int = 256) -> np.ndarray:
    """Per-frame SSIM (Wang et al. 2004): 11x11 gaussian window with sigma 1.5, K1=0.01,
    K2=0.03, peak 255; the SSIM map is computed on each RGB channel over the 'valid' region
    (no padding, as in the reference MATLAB code) and averaged over pixels and channels.
    Identical frames give exactly 1.0."""
    a, b = _check_pair(a, b)
    lead, (H, W) = a.shape[:-3], a.shape[-3:-1]
    if H < 11 or W < 11:
        raise ValueError(f"SSIM needs frames of at least 11x11, got {H}x{W}")
    a, b = a.reshape(-1, H, W, 3), b.reshape(-1, H, W, 3)
    c1, c2 = (0.01 * MAX_VALUE) ** 2, (0.03 * MAX_VALUE) ** 2
    win = _gaussian_window().expand(3, 1, 11, 11)  # one window per channel (depthwise conv)
    out = []
    for i in range(0, len(a), batch):  # batches bound the float64 intermediates
        x = torch.from_numpy(a[i:i + batch]).permute(0, 3, 1, 2).double()
        y = torch.from_numpy(b[i:i + batch]).permute(0, 3, 1, 2).double()
        blur = lambda t: F.conv2d(t, win, groups=3)  # noqa: E731 - local weighted mean
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        out.append(s.mean(dim=(1, 2, 3)))
    return torch.cat(out).numpy().reshape(lead)


# --- classification -------------------------------------------------------------------------
def confusion_matrix(true_ids, pred_ids, n: int) -> np.ndarray:
    """(n, n) counts: row = true class, column = predicted class."""
    t, p = _as_numpy(true_ids).astype(np.int64).ravel(), _as_numpy(pred_ids).astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{t.size} true ids but {p.size} predictions")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n):
        raise ValueError(f"class ids must lie in [0, {n})")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def accuracy(true_ids, pred_ids) -> float:
    """Fraction of predictions equal to the truth; nan when there are none."""
    t, p = _as_numpy(true_ids).ravel(), _as_numpy(pred_ids).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{t.size} true ids but {p.size} predictions")
    return float((t == p).mean()) if t.size else math.nan


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix; nan for classes with no samples."""
    cm = np.asarray(cm)
    n = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.diag(cm) / n, np.nan)


# --- summaries ------------------------------------------------------------------------------
def summarize(values, finite_only: bool = False) -> dict:
    """Mean with a 95% normal-approximation interval: {"mean", "ci95", "n", "excluded"}.

    ci95 is the half-width 1.96 * stderr (sample std with ddof=1 / sqrt(n)), so the interval
    is mean +- ci95; it assumes roughly independent values (no bootstrap). With
    `finite_only`, inf/nan values (e.g. PSNR of identical frames) are left out and counted
    in "excluded". ci95 is nan when it is undefined (n < 2, or a non-finite mean).
    """
    v = _as_numpy(values).astype(np.float64).ravel()
    excluded = 0
    if finite_only:
        keep = np.isfinite(v)
        excluded, v = int((~keep).sum()), v[keep]
    n = int(v.size)
    if n == 0:
        return {"mean": math.nan, "ci95": math.nan, "n": 0, "excluded": excluded}
    mean = float(v.mean())
    ci = math.nan
    if n >= 2 and math.isfinite(mean):
        ci = float(1.96 * v.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "ci95": ci, "n": n, "excluded": excluded}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets a (n, d) and b (m, d), as FID
    computes it: |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), with the matrix
    square roots from symmetric eigendecompositions (numerically safe for PSD matrices)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two (n, d) feature sets with n >= 2 and the same d, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)

    def sqrt_psd(m):
        w, v = np.linalg.eigh((m + m.T) / 2)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r = sqrt_psd(s_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(r @ s_b @ r), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)
