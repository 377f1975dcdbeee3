"""Benchmark frame metrics against answers known by hand or computed independently."""
import math

import numpy as np
import pytest
import torch

from tv2tv_env.bench.metrics import accuracy, confusion_matrix, per_class_accuracy, psnr, ssim, summarize

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def frames(n=2, h=32, w=32, seed=0, high=256):
    return np.random.default_rng(seed).integers(0, high, (n, h, w, 3), dtype=np.uint8)


def noisy(a, sigma, seed=1):
    noise = np.random.default_rng(seed).normal(0, sigma, a.shape)
    return np.clip(a + noise, 0, 255).astype(np.uint8)


def test_psnr_identical_is_inf_and_offset_is_analytic():
    a = frames(high=240)
    assert np.all(np.isinf(psnr(a, a)))
    got = psnr(a, a + 16)  # every pixel off by 16: mse = 256
    np.testing.assert_allclose(got, 20 * math.log10(255 / 16))
    assert got.shape == (2,)


def test_psnr_accepts_torch_and_keeps_leading_dims():
    a = frames(n=6).reshape(2, 3, 32, 32, 3)
    b = noisy(a, 10)
    got = psnr(torch.from_numpy(a), torch.from_numpy(b))
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got.ravel(), psnr(a.reshape(6, 32, 32, 3), b.reshape(6, 32, 32, 3)))
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:1])


def test_ssim_identical_is_one_and_falls_with_noise():
    a = frames(n=3)
    assert np.array_equal(ssim(a, a), np.ones(3))
    scores = [ssim(a, noisy(a, s)).mean() for s in (5, 20, 60)]
    assert scores[0] < 1 and scores[0] > scores[1] > scores[2]


def test_ssim_flat_frames_have_the_closed_form():
    # constant frames: no variance, so SSIM is the luminance term alone
    a, b = np.full((1, 16, 16, 3), 100, np.uint8), np.full((1, 16, 16, 3), 116, np.uint8)
    want = (2 * 100 * 116 + C1) / (100 ** 2 + 116 ** 2 + C1)
    np.testing.assert_allclose(ssim(a, b), [want])


def test_ssim_matches_a_direct_windowed_computation():
    a = frames(n=1, h=14, w=13, seed=3)
    b = noisy(a, 30)
    x = np.arange(11) - 5.0
    g = np.exp(-x ** 2 / (2 * 1.5 ** 2))
    w = np.outer(g, g) / g.sum() ** 2

    def direct(p, q):  # SSIM window by window, as written in Wang et al. 2004
        vals = []
        for i in range(p.shape[0] - 10):
            for j in range(p.shape[1] - 10):
                P, Q = p[i:i + 11, j:j + 11], q[i:i + 11, j:j + 11]
                mp, mq = (w * P).sum(), (w * Q).sum()
                vp, vq, c = (w * (P - mp) ** 2).sum(), (w * (Q - mq) ** 2).sum(), (w * (P - mp) * (Q - mq)).sum()
                vals.append((2 * mp * mq + C1) * (2 * c + C2) / ((mp ** 2 + mq ** 2 + C1) * (vp + vq + C2)))
        return np.mean(vals)

    want = np.mean([direct(a[0, ..., c].astype(float), b[0, ..., c].astype(float)) for c in range(3)])
    np.testing.assert_allclose(ssim(a, b), [want], rtol=1e-10)


def test_confusion_matrix_and_accuracy_by_hand():
    true, pred = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2]
    cm = confusion_matrix(true, pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]  # rows true, columns predicted
    assert accuracy(true, pred) == pytest.approx(4 / 6)
    np.testing.assert_allclose(per_class_accuracy(confusion_matrix([0, 0, 2], [0, 1, 2], 3)), [0.5, np.nan, 1.0])
    assert math.isnan(accuracy([], []))
    with pytest.raises(ValueError, match="class ids"):
        confusion_matrix([0, 3], [0, 0], 3)


def test_summarize_mean_and_normal_interval():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s["mean"] == 2.5 and s["n"] == 4 and s["excluded"] == 0
    assert s["ci95"] == pytest.approx(1.96 * np.std([1, 2, 3, 4], ddof=1) / 2)
    s = summarize([1.0, 3.0, np.inf], finite_only=True)
    assert (s["mean"], s["n"], s["excluded"]) == (2.0, 2, 1)
    s = summarize([1.0, np.inf])
    assert s["mean"] == math.inf and math.isnan(s["ci95"])
    assert math.isnan(summarize([5.0])["ci95"]) and summarize([])["n"] == 0


def test_frechet_distance_known_answers():
    from tv2tv_env.bench.metrics import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([3.0, 0.0, 4.0])
    assert frechet_distance(a, a + shift) == pytest.approx(25.0, rel=1e-6)  # |mu_a - mu_b|^2, same covariance
    # N(0, I) vs N(0, 4I) in 3-d: tr(I + 4I - 2 * 2I) = 3
    assert frechet_distance(a, 2 * rng.normal(size=(4000, 3))) == pytest.approx(3.0, rel=0.1)
    assert frechet_distance(a, a + shift) == pytest.approx(frechet_distance(a + shift, a))
    with pytest.raises(ValueError, match="feature sets"):
        frechet_distance(a, a[:, :2])
