"""Metrics against hand-computed values and independent implementations (scipy, scikit-image, plain numpy)."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg
from skimage.metrics import structural_similarity

from hf_segan.metrics import (
    PSNR_CAP_DB,
    ConfusionMatrix,
    EditingMetrics,
    FeatureStatistics,
    average_content_distance,
    compute_fid_kid,
    expression_accuracy,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    psnr,
    ssim,
    unwanted_change,
)

# --- parsing -----------------------------------------------------------------------------------------------------


def test_confusion_matrix_scores_match_hand_counts():
    # truth:      0 0 1 1 2 2      prediction: 0 1 1 1 2 0     (class 3 absent from both)
    truth = torch.tensor([[0, 0, 1, 1, 2, 2]])
    prediction = torch.tensor([[0, 1, 1, 1, 2, 0]])
    matrix = ConfusionMatrix(4).update(prediction[:, :3], truth[:, :3]).update(prediction[:, 3:], truth[:, 3:])
    # class 0: tp 1, fp 1, fn 1 -> IoU 1/3, F1 2/4;  class 1: tp 2, fp 1, fn 0 -> IoU 2/3, F1 4/5;
    # class 2: tp 1, fp 0, fn 1 -> IoU 1/2, F1 2/3;  class 3: undefined
    assert matrix.iou()[:3] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert matrix.f1()[:3] == pytest.approx([1 / 2, 4 / 5, 2 / 3])
    assert math.isnan(matrix.iou()[3]) and math.isnan(matrix.f1()[3])
    assert matrix.mean_iou() == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert matrix.mean_f1() == pytest.approx((4 / 5 + 2 / 3) / 2)  # background excluded
    assert matrix.pixel_accuracy() == pytest.approx(4 / 6)
    summary = matrix.summary(["bg", "skin", "nose", "hat"])
    assert summary["f1/skin"] == pytest.approx(0.8) and math.isnan(summary["f1/hat"])


def test_confusion_matrix_merge_ignore_and_errors():
    a = ConfusionMatrix(3).update(torch.tensor([0, 1]), torch.tensor([0, 1]))
    b = ConfusionMatrix(3).update(torch.tensor([2]), torch.tensor([1]))
    assert a.merge(b).matrix.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    ignoring = ConfusionMatrix(3, ignore_index=255).update(torch.tensor([0, 2]), torch.tensor([0, 255]))
    assert int(ignoring.matrix.sum()) == 1
    with pytest.raises(ValueError, match="same shape"):
        a.update(torch.zeros(2, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets hold labels outside 0\.\.2"):
        a.update(torch.tensor([0]), torch.tensor([7]))
    with pytest.raises(ValueError, match="integer label maps"):
        a.update(torch.rand(1, 3, 2, 2), torch.tensor([[[0, 1], [1, 0]]]))
    with pytest.raises(ValueError, match="Cannot merge a 4-class"):
        a.merge(ConfusionMatrix(4))


def test_confusion_matrices_add_without_changing_their_operands():
    a = ConfusionMatrix(2).update(torch.tensor([0, 1]), torch.tensor([0, 0]))
    b = ConfusionMatrix(2).update(torch.tensor([1]), torch.tensor([1]))
    total = a + b
    assert total.matrix.tolist() == [[1, 1], [0, 1]]
    assert a.matrix.tolist() == [[1, 1], [0, 0]] and b.matrix.tolist() == [[0, 0], [0, 1]]
    assert sum([a, b]).matrix.tolist() == total.matrix.tolist()


# --- FID / KID -----------------------------------------------------------------------------------------------------


def test_identical_feature_sets_have_zero_fid_and_kid():
    features = np.random.default_rng(0).normal(size=(200, 8))
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-6)
    kid, _ = kid_from_features(features, features, subsets=5, subset_size=100)
    shifted, _ = kid_from_features(features, features + 0.5, subsets=5, subset_size=100)
    # unbiased: zero in expectation for one distribution, so small next to a real shift
    assert abs(kid) < 0.1 * shifted


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))  # 5 + (1 + 1 + 4)
    assert expected == pytest.approx(11.0)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)


def test_fid_matches_an_independent_scipy_computation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(64, 5)), rng.normal(0.5, 2.0, size=(80, 5))
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(sa @ sb).real
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa + sb - 2 * root)
    assert fid_from_features(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_is_stable_with_fewer_samples_than_dimensions():
    # Singular covariances (N < D) are the usual case for small evaluation sets with 2048-d features.
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(10, 32)), rng.normal(size=(12, 32))
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)
    # Symmetric, and equal to the closed form for commuting (here: equal-shape, scaled) covariances:
    # sigma2 = 4 sigma1 -> Tr(S1 + 4 S1 - 2 * 2 S1) = Tr(S1).
    sa = np.cov(a, rowvar=False)
    assert frechet_distance(a.mean(0), sa, a.mean(0), 4 * sa) == pytest.approx(np.trace(sa), rel=1e-6)
    assert fid_from_features(a, b) == pytest.approx(fid_from_features(b, a), rel=1e-6)


def test_streaming_statistics_equal_numpy():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(50, 4))
    stats = FeatureStatistics()
    for chunk in np.array_split(data, 7):
        stats.update(torch.from_numpy(chunk))
    assert np.allclose(stats.mean, data.mean(0)) and np.allclose(stats.cov, np.cov(data, rowvar=False))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        stats.update(np.zeros(3))
    with pytest.raises(ValueError, match="width changed from 4 to 5"):
        stats.update(np.zeros((2, 5)))


def test_streaming_covariance_survives_a_large_common_offset():
    # Network features share a large offset; E[xx^T] - mm^T without a shift would lose the covariance to rounding.
    rng = np.random.default_rng(6)
    data = 1e6 + rng.normal(size=(300, 3))
    stats = FeatureStatistics(keep_features=False)
    for chunk in np.array_split(data, 5):
        stats.update(chunk)
    assert np.allclose(stats.cov, np.cov(data, rowvar=False), atol=1e-9)


def test_kid_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 3)), rng.normal(1.0, 1.0, size=(12, 3))

    def k(a, b):
        return (np.dot(a, b) / 3 + 1) ** 3

    n = 12
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    across = sum(k(x[i], y[j]) for i in range(n) for j in range(n)) / n**2
    kid, std = kid_from_features(x, y, subsets=3, subset_size=12)  # full sets: every subset is the whole set
    assert kid == pytest.approx(within - 2 * across) and std == pytest.approx(0.0, abs=1e-9)


def test_compute_fid_kid_streams_batches_through_the_extractor():
    generator = torch.Generator().manual_seed(7)
    real = [torch.rand(6, 3, 8, 8, generator=generator) * 2 - 1 for _ in range(3)]
    fake = [(batch * 0.5).clamp(-1, 1) for batch in real]

    def extractor(images):  # 6 features: channel means and channel standard deviations
        return torch.cat([images.mean((2, 3)), images.std((2, 3))], 1)

    same = compute_fid_kid(iter(real), iter(real), extractor, kid_subsets=4, kid_subset_size=10)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    features = [extractor(b).numpy() for b in real], [extractor(b).numpy() for b in fake]
    scores = compute_fid_kid(real, fake, extractor, kid_subsets=4, kid_subset_size=10, seed=3)
    assert scores["fid"] == pytest.approx(fid_from_features(*(np.concatenate(f) for f in features)))
    assert (scores["kid"], scores["kid_std"]) == pytest.approx(
        kid_from_features(*(np.concatenate(f) for f in features), subsets=4, subset_size=10, seed=3)
    )
    with pytest.raises(ValueError, match=r"must return \(B, D\) features for B=6"):
        compute_fid_kid(real, fake, lambda images: images.mean(), kid_subsets=1)
    with pytest.raises(ValueError, match="real_images"):
        compute_fid_kid([real[0] * 3], fake, extractor)


# --- editing -------------------------------------------------------------------------------------------------------


def test_psnr_of_a_constant_offset():
    a = torch.zeros(2, 3, 8, 8)
    b = a + 0.2  # MSE 0.04, range 2 -> 10 log10(4 / 0.04) = 20 dB
    assert psnr(a, b).tolist() == pytest.approx([20.0, 20.0])
    assert math.isinf(psnr(a, a)[0])
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:1])


def test_ssim_matches_scikit_image():
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(3, 32, 32))
    y = np.clip(x + rng.normal(0, 0.3, size=x.shape), -1, 1)
    ours = ssim(torch.from_numpy(x)[None].float(), torch.from_numpy(y)[None].float()).item()
    reference = structural_similarity(
        x, y, channel_axis=0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=2.0
    )
    assert ours == pytest.approx(reference, abs=1e-4)
    assert ssim(torch.from_numpy(x)[None].float(), torch.from_numpy(x)[None].float()).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_unwanted_change_counts_only_outside_the_regions():
    inputs = torch.zeros(1, 3, 4, 4)
    masks = torch.zeros(1, 2, 4, 4)
    masks[:, 0, :2, :2] = 1.0  # 4 pixels inside
    edits = inputs.clone()
    edits[:, :, :2, :2] = 0.9  # change only inside: nothing unwanted
    assert unwanted_change(inputs, edits, masks).item() == 0.0
    edits[:, 0, 3, 3] = 0.6  # one outside pixel, one channel of three: 0.2 mean over 12 outside pixels
    assert unwanted_change(inputs, edits, masks).item() == pytest.approx(0.2 / 12)
    soft = masks * 0.5  # soft masks weigh the 4 inside pixels by 0.5: (0.9 * 4 * 0.5 + 0.2) / (12 + 4 * 0.5)
    assert unwanted_change(inputs, edits, soft).item() == pytest.approx((0.9 * 4 * 0.5 + 0.2) / 14)
    with pytest.raises(ValueError, match=r"image\(s\) \[1\] cover the whole image"):
        unwanted_change(
            inputs.repeat(2, 1, 1, 1), edits.repeat(2, 1, 1, 1), torch.cat([masks[:, :1], torch.ones(1, 1, 4, 4)])
        )
    with pytest.raises(ValueError, match=r"region_masks must have shape \(B, R, H, W\)"):
        unwanted_change(inputs, edits, masks[0])


def test_accuracy_and_content_distance():
    logits = torch.tensor([[0.1, 2.0], [3.0, 0.0]])
    assert expression_accuracy(logits, torch.tensor([1, 1])).tolist() == [1.0, 0.0]
    a, b = torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    b[:, 0] = 0.5
    # embedding = the image's mean per channel -> distance |(0.5, 0, 0)| = 0.5
    assert average_content_distance(lambda t: t.mean((2, 3)), a, b).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"class indices in 0\.\.1"):
        expression_accuracy(logits, torch.tensor([0, 2]))


def test_editing_metrics_average_each_score_over_its_images():
    inputs = torch.zeros(3, 3, 16, 16)
    edits = inputs + 0.2  # PSNR 20 dB against the inputs, unwanted change 0.2 everywhere outside
    masks = torch.zeros(3, 1, 16, 16)
    masks[..., :8, :] = 1.0  # top half is the target region
    metrics = EditingMetrics(embed_fn=lambda t: t.mean((2, 3)))
    metrics.update(inputs[:2], edits[:2], targets=inputs[:2], region_masks=masks[:2])
    # second batch: a perfect reconstruction (infinite PSNR, capped), no masks, a judge that is right
    metrics.update(
        inputs[2:],
        edits[2:],
        targets=edits[2:],
        judge_logits=torch.tensor([[0.0, 1.0]]),
        target_expressions=torch.tensor([1]),
    )
    scores = metrics.compute()
    assert scores["psnr"] == pytest.approx((20.0 + 20.0 + PSNR_CAP_DB) / 3)
    assert scores["unwanted_change"] == pytest.approx(0.2)  # only the two images that had masks
    assert scores["expression_accuracy"] == 1.0
    assert scores["acd"] == pytest.approx(math.sqrt(3 * 0.2**2))  # channel means move by 0.2 each
    # constant images: only SSIM's luminance term is left, (2 * 0 * 0.2 + C1) / (0.2^2 + C1) with C1 = (0.01 * 2)^2
    c1 = 0.02**2
    assert scores["ssim"] == pytest.approx((2 * c1 / (0.04 + c1) + 1.0) / 3)
    with pytest.raises(ValueError, match="must be given together"):
        metrics.update(inputs, edits, judge_logits=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="No images were added"):
        EditingMetrics().compute()
