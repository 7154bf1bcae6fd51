"""Region masks: soft masks from parser probabilities, dilation, and the landmark-box baseline."""

import pytest
import torch

from hf_segan.constants import DEFAULT_REGION_GROUPS, FACE_PARSING_CLASSES
from hf_segan.models.regions import (
    box_region_masks,
    crop_windows,
    dilate,
    paste_windows,
    region_group_indices,
    resolve_region_groups,
    soft_region_masks,
    window_origins,
)


def _one_hot(labels: torch.Tensor, num_classes: int = len(FACE_PARSING_CLASSES)) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()


def test_soft_masks_sum_group_probabilities():
    probs = torch.zeros(1, 4, 2, 2)
    probs[0, 0] = torch.tensor([[0.1, 0.5], [0.0, 1.0]])
    probs[0, 1] = torch.tensor([[0.2, 0.5], [0.3, 0.0]])
    probs[0, 2] = 1.0 - probs[0, 0] - probs[0, 1]
    masks = soft_region_masks(probs, [[0, 1], [2], [3]])
    assert masks.shape == (1, 3, 2, 2)
    torch.testing.assert_close(masks[0, 0], torch.tensor([[0.3, 1.0], [0.3, 1.0]]))
    torch.testing.assert_close(masks[0, 1], torch.tensor([[0.7, 0.0], [0.7, 0.0]]))
    # class 3 has zero probability everywhere: its group's mask is exactly zero
    assert torch.equal(masks[0, 2], torch.zeros(2, 2))


def test_soft_masks_are_clamped_to_unit_interval():
    probs = torch.full((1, 2, 3, 3), 0.8)
    assert soft_region_masks(probs, [[0, 1]]).max() == 1.0


def test_dilation_grows_a_mask_by_the_requested_pixels_and_stays_differentiable():
    probs = torch.zeros(1, 2, 16, 16)
    probs[0, 1, 7, 9] = 1.0
    probs[0, 0] = 1.0 - probs[0, 1]
    probs.requires_grad_(True)
    dilated = soft_region_masks(probs, [[1]], dilation=2)[0, 0]
    rows, cols = torch.nonzero(dilated > 0.5, as_tuple=True)
    # one pixel grown by 2 in every direction: a 5x5 square centred on it
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 9, 7, 11)
    assert int((dilated > 0.5).sum()) == 25
    dilated.sum().backward()
    assert probs.grad[0, 1, 7, 9] == 25.0


@pytest.mark.parametrize("pixels", [1, 3])
def test_separable_dilation_equals_the_square_max_pool(pixels):
    masks = torch.rand(2, 3, 23, 30)
    square = torch.nn.functional.max_pool2d(masks, 2 * pixels + 1, stride=1, padding=pixels)
    assert torch.equal(dilate(masks, pixels), square)
    assert dilate(masks, 0) is masks


def test_box_masks_bound_the_region_exactly():
    masks = torch.zeros(2, 2, 8, 10)
    masks[0, 0, 2, 3] = 0.9
    masks[0, 0, 5, 7] = 0.6
    masks[0, 0, 0, 0] = 0.4  # below the threshold: not part of the region
    masks[0, 1, 6, 1] = 1.0
    masks.requires_grad_(True)
    boxes = box_region_masks(masks, threshold=0.5)
    expected = torch.zeros(2, 2, 8, 10)
    expected[0, 0, 2:6, 3:8] = 1.0  # rows 2..5, columns 3..7
    expected[0, 1, 6, 1] = 1.0
    assert torch.equal(boxes, expected)  # batch 1 has empty regions: all-zero boxes
    assert not boxes.requires_grad


def test_default_groups_resolve_to_class_indices():
    groups = resolve_region_groups()
    assert groups == {name: list(names) for name, names in DEFAULT_REGION_GROUPS.items()}
    assert list(groups) == sorted(DEFAULT_REGION_GROUPS)  # name order survives diffusers' sorted config JSON
    mouth = region_group_indices(groups)[list(groups).index("mouth")]
    assert [FACE_PARSING_CLASSES[i] for i in mouth] == ["mouth", "u_lip", "l_lip"]
    labels = torch.full((1, 4, 4), FACE_PARSING_CLASSES.index("skin"))
    labels[0, 1, 2] = FACE_PARSING_CLASSES.index("u_lip")
    masks = soft_region_masks(_one_hot(labels), region_group_indices(groups))
    assert torch.nonzero(masks[0, list(groups).index("mouth")]).tolist() == [[1, 2]]


def test_bad_arguments_raise_clear_errors():
    probs = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match="out of range for `probs` with 3 classes"):
        soft_region_masks(probs, [[5]])
    with pytest.raises(ValueError, match="`dilation` must be an integer >= 0"):
        soft_region_masks(probs, [[0]], dilation=-1)
    with pytest.raises(ValueError, match=r"shape \(B, R, H, W\)"):
        box_region_masks(torch.zeros(4, 4))


def test_windows_centre_on_each_mask_and_stay_inside_the_image():
    masks = torch.zeros(3, 16, 16)
    masks[0, 6:10, 2:6] = 1.0  # centre (8, 4): a 4x6 window starts at row 6, column 1
    masks[1, 0:2, 14:16] = 1.0  # in a corner: the window is clamped inside
    top, left = window_origins(masks, (4, 6))
    assert top.tolist() == [6, 0, 0] and left.tolist() == [1, 10, 0]  # an empty mask gets the top-left window
    # in cells of 4 pixels: a region centred at pixel (34, 17) gets a 2x2-cell window from cell (8, 3)
    masks = torch.full((1, 48, 48), 0.3)  # diffuse probability below the threshold does not pull the window
    masks[0, 32:36, 15:19] = 0.9
    top, left = window_origins(masks, (2, 2), stride=4)
    assert (top.item(), left.item()) == (8, 3)


def test_paste_puts_back_what_crop_took_and_zeros_elsewhere():
    x = torch.randn(2, 3, 12, 12, requires_grad=True)
    top, left = torch.tensor([0, 5]), torch.tensor([7, 2])
    windows = crop_windows(x, top, left, (4, 5))
    assert torch.equal(windows[1], x[1, :, 5:9, 2:7])
    canvas, inside = paste_windows(windows, top, left, (12, 12))
    expected = torch.zeros(2, 1, 12, 12)
    expected[0, :, 0:4, 7:12] = expected[1, :, 5:9, 2:7] = 1.0
    assert torch.equal(inside, expected) and torch.equal(canvas, x * expected)
    canvas.sum().backward()  # the gradient reaches exactly the cropped entries
    assert torch.equal(x.grad, expected.expand(-1, 3, -1, -1))
