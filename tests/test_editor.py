"""The hierarchical expression editor: shapes, composition, editable regions, gradients, persistence, learning."""

import json
import re
from pathlib import Path

import pytest
import torch
from conftest import randomize_zero_initialised_layers

import hf_segan
from hf_segan.constants import DEFAULT_REGION_GROUPS, EXPRESSIONS, FACE_PARSING_CLASSES
from hf_segan.models.editor import HierarchicalExpressionGenerator, apply_heads, editor_arguments, warp_images
from hf_segan.models.layers import FiLM

TINY = {"base_channels": 8, "num_residual_blocks": 1, "local_channels": 8}
SIZE = 32
REGION_NAMES = sorted(DEFAULT_REGION_GROUPS)
NUM_GROUPS = len(REGION_NAMES)


def _editor(**kwargs) -> HierarchicalExpressionGenerator:
    return HierarchicalExpressionGenerator(**{**TINY, **kwargs})


def _face_labels(batch: int = 2, size: int = SIZE) -> torch.Tensor:
    """Skin everywhere, two eyes, a nose and a mouth as blocks at known places."""
    label = FACE_PARSING_CLASSES.index
    labels = torch.full((batch, size, size), label("skin"))
    labels[:, 8:12, 6:12] = label("l_eye")
    labels[:, 8:12, 20:26] = label("r_eye")
    labels[:, 12:20, 14:18] = label("nose")
    labels[:, 22:26, 10:22] = label("u_lip")
    return labels


def _outside_mouth(batch: int = 2) -> torch.Tensor:
    """(B, 1, H, W) True outside the mouth region's mask: the lip block [22:26, 10:22] grown by the editor's
    3-pixel mask dilation on every side."""
    outside = torch.ones(batch, 1, SIZE, SIZE, dtype=torch.bool)
    outside[..., 19:29, 7:25] = False
    return outside


def _probs(labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, len(FACE_PARSING_CLASSES)).permute(0, 3, 1, 2).float()


def _inputs(batch: int = 2):
    images = torch.rand(batch, 3, SIZE, SIZE) * 2 - 1
    condition = torch.nn.functional.one_hot(torch.arange(batch) % len(EXPRESSIONS), len(EXPRESSIONS)).float()
    return images, _probs(_face_labels(batch)), condition


@pytest.mark.parametrize("max_displacement", [0.0, 0.05])
@pytest.mark.parametrize("source", ["semantic", "box", "none"])
def test_output_shapes_ranges_and_composition(source, max_displacement):
    editor = _editor(region_source=source, max_displacement=max_displacement)
    randomize_zero_initialised_layers(editor)  # non-zero, so that the warp really moves pixels
    images, probs, condition = _inputs()
    out = editor(images, probs, condition)
    regions = 0 if source == "none" else NUM_GROUPS
    assert out.images.shape == out.color.shape == out.global_color.shape == (2, 3, SIZE, SIZE)
    assert out.attention.shape == out.global_attention.shape == (2, 1, SIZE, SIZE)
    assert out.region_masks.shape == out.local_attention.shape == (2, regions, SIZE, SIZE)
    assert out.local_color.shape == (2, regions, 3, SIZE, SIZE)
    assert out.images.min() >= -1 and out.images.max() <= 1
    assert out.attention.min() >= 0 and out.attention.max() <= 1
    if max_displacement:
        assert out.flow.shape == (2, 2, SIZE, SIZE) and 0 < out.flow.abs().max() <= 2 * max_displacement
        images = warp_images(images, out.flow)
    else:
        assert out.flow is None
    torch.testing.assert_close(out.images, out.attention * images + (1 - out.attention) * out.color)


@pytest.mark.parametrize("source", ["semantic", "none"])
def test_edits_stay_in_range_under_bf16_autocast(source):
    """bf16 rounds attention and 1 - attention independently, so composing in bf16 put edits up to 0.002 past 1.0:
    the critic rejected them and a bf16 training run died at step 798. Saturated maps and inputs at the range's
    ends are the worst case."""
    editor = _editor(region_source=source, max_displacement=0.05)
    randomize_zero_initialised_layers(editor)
    with torch.no_grad():
        for parameter in editor.parameters():
            parameter.mul_(8.0)  # saturate tanh and sigmoid
    images, probs, condition = _inputs(batch=8)
    images = images.sign()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = editor(images, probs, condition)
    assert out.images.dtype == torch.float32
    assert out.images.min() >= -1 and out.images.max() <= 1


def test_masks_follow_the_parser_and_boxes_enclose_them():
    images, probs, condition = _inputs()
    semantic = _editor().compute_region_masks(probs, (SIZE, SIZE))
    mouth = REGION_NAMES.index("mouth")
    assert torch.equal(semantic[0, mouth], (~_outside_mouth()[0, 0]).float())
    boxes = _editor(region_source="box").compute_region_masks(probs, (SIZE, SIZE))
    eyes = REGION_NAMES.index("eyes")
    expected = torch.zeros(SIZE, SIZE)
    expected[5:15, 3:29] = 1.0  # one box around both eyes grown by 3 pixels, the gap between them included
    assert torch.equal(boxes[0, eyes], expected)
    # probabilities at a lower resolution are resized to the image
    low = torch.nn.functional.interpolate(probs, size=(16, 16), mode="bilinear", align_corners=False)
    assert _editor()(images, low, condition).region_masks.shape == (2, NUM_GROUPS, SIZE, SIZE)


def test_group_with_zero_probability_gives_zero_mask():
    images, probs, condition = _inputs()
    out = _editor()(images, probs, condition)
    nose = REGION_NAMES.index("nose")
    probs_without_nose = _probs(_face_labels().masked_fill(_face_labels() == FACE_PARSING_CLASSES.index("nose"), 1))
    masks = _editor().compute_region_masks(probs_without_nose, (SIZE, SIZE))
    assert torch.equal(masks[:, nose], torch.zeros(2, SIZE, SIZE))
    assert out.region_masks[:, nose].sum() > 0


def test_editable_regions_keep_every_other_pixel_exactly():
    editor = _editor()
    images, probs, condition = _inputs()
    out = editor(images, probs, condition, editable_regions=["mouth"])
    outside = _outside_mouth()
    assert torch.all(out.attention[outside] == 1.0)
    assert torch.equal(
        out.images.expand(-1, 3, -1, -1)[outside.expand(-1, 3, -1, -1)], images[outside.expand(-1, 3, -1, -1)]
    )
    assert (out.images != images).any()


def test_editable_regions_errors():
    images, probs, condition = _inputs()
    with pytest.raises(ValueError, match=r"Unknown editable region\(s\) \['lips'\]; valid region groups are \['eyes'"):
        _editor()(images, probs, condition, editable_regions=["lips"])
    with pytest.raises(ValueError, match='cannot be used with region_source="none"'):
        _editor(region_source="none")(images, probs, condition, editable_regions=["mouth"])


def test_semantic_masks_carry_gradients_to_the_parser_and_boxes_do_not():
    images, _, condition = _inputs()
    grads = {}
    for source in ("semantic", "box", "none"):
        logits = (4 * _probs(_face_labels()) + 0.1 * torch.randn(2, len(FACE_PARSING_CLASSES), SIZE, SIZE)).detach()
        logits.requires_grad_(True)
        editor = _editor(region_source=source)
        editor(images, logits.softmax(1), condition).images.square().mean().backward()
        grads[source] = logits.grad
    assert grads["semantic"] is not None and grads["semantic"].abs().sum() > 0
    for source in ("box", "none"):
        assert grads[source] is None or grads[source].abs().sum() == 0


def test_local_generators_receive_gradients():
    editor = _editor()
    images, probs, condition = _inputs()
    editor(images, probs, condition).images.square().mean().backward()
    for generator in editor.local_generators:
        assert all(p.grad is not None for p in generator.parameters())
        assert sum(p.grad.abs().sum() for p in generator.parameters()) > 0


WINDOWS = {"eyes": [0.5, 0.75], "mouth": [0.25, 0.5], "nose": [0.5, 0.25]}


def test_whole_image_windows_compute_exactly_what_the_plain_editor_does():
    """Cropping and pasting a window the size of the image moves nothing: a check of crop, paste and fusion."""
    plain = _editor(max_displacement=0.05, film_conditioning=True)
    randomize_zero_initialised_layers(plain)
    whole_image = {name: [1.0, 1.0] for name in REGION_NAMES}
    windowed = _editor(max_displacement=0.05, film_conditioning=True, local_windows=whole_image)
    windowed.load_state_dict(plain.state_dict())
    images, probs, condition = _inputs()
    assert torch.equal(plain(images, probs, condition).images, windowed(images, probs, condition).images)


def test_windowed_local_generators_decode_around_their_regions_only():
    editor = _editor(local_windows=WINDOWS)
    randomize_zero_initialised_layers(editor)
    images, _, condition = _inputs()
    logits = (4 * _probs(_face_labels()) + 0.1 * torch.randn(2, len(FACE_PARSING_CLASSES), SIZE, SIZE)).detach()
    logits.requires_grad_(True)
    out = editor(images, logits.softmax(1), condition)
    mouth = REGION_NAMES.index("mouth")
    # the mouth (rows 22-26, columns 10-22) gets an 8x16 window at rows 20-28, columns 8-24; outside it the mouth
    # generator's logits are zero (attention 0.5, colour 0)
    decoded = out.local_attention[:, mouth] != 0.5
    assert decoded[:, 20:28, 8:24].all()
    decoded[:, 20:28, 8:24] = False
    assert not decoded.any() and (out.local_color[:, mouth].abs().sum(1)[decoded] == 0).all()
    # the soft masks inside the windows still train the parser; every local generator learns
    out.images.square().mean().backward()
    assert logits.grad.abs().sum() > 0
    assert all(sum(p.grad.abs().sum() for p in g.parameters()) > 0 for g in editor.local_generators)


def test_local_windows_must_name_every_group_with_fractions():
    with pytest.raises(ValueError, match=r"window for every region group \['eyes', 'mouth', 'nose'\]"):
        _editor(local_windows={"eyes": [0.5, 0.5]})
    with pytest.raises(ValueError, match=r"`local_windows\['nose'\]` must be \[height, width\]"):
        _editor(local_windows={**WINDOWS, "nose": [0.5, 1.5]})
    # without regions there is nothing to window: one config serves every ablation
    assert _editor(region_source="none", local_windows=WINDOWS).config.local_windows is None


def test_save_and_load_round_trip(tmp_path):
    editor = _editor(local_windows={"nose": [0.25, 0.5], "mouth": [0.5, 0.5], "eyes": [0.25, 1.0]}).eval()
    editor.save_pretrained(tmp_path)
    loaded = HierarchicalExpressionGenerator.from_pretrained(tmp_path).eval()
    # groups are in name order, the order diffusers' sorted config JSON preserves
    assert editor.region_names == loaded.region_names == ["eyes", "mouth", "nose"]
    assert loaded.window_fractions == [[0.25, 1.0], [0.5, 0.5], [0.25, 0.5]]
    state, loaded_state = editor.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    assert all(torch.equal(state[key], loaded_state[key]) for key in state)
    images, probs, condition = _inputs()
    with torch.no_grad():
        assert torch.equal(editor(images, probs, condition).images, loaded(images, probs, condition).images)


def test_trained_on_real_photos_is_saved_and_old_checkpoints_load_as_synthetic(tmp_path):
    real = _editor(trained_on_real_photos=True)
    real.save_pretrained(tmp_path / "real")
    assert HierarchicalExpressionGenerator.from_pretrained(tmp_path / "real").config.trained_on_real_photos is True
    # a checkpoint saved before the key existed has no such entry in its config.json: it saw only synthetic faces
    old = _editor()
    old.save_pretrained(tmp_path / "old")
    config_path = tmp_path / "old" / "config.json"
    config = json.loads(config_path.read_text())
    del config["trained_on_real_photos"]
    config_path.write_text(json.dumps(config))
    assert HierarchicalExpressionGenerator.from_pretrained(tmp_path / "old").config.trained_on_real_photos is False
    with pytest.raises(ValueError, match="trained_on_real_photos"):
        _editor(trained_on_real_photos="yes")


def _saved_with(tmp_path, editor, **old_options) -> Path:
    """``editor`` saved as an earlier version wrote it: its config.json also holds ``old_options``."""
    editor.save_pretrained(tmp_path)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), **old_options}))
    return tmp_path


def test_models_saved_with_a_retired_option_at_its_fixed_value_load_unchanged(tmp_path):
    # Earlier versions took these options and saved them in every config.json (the bundled model's among them);
    # the values are the ones every shipped recipe used: instance norm, 3-pixel dilation, boxes at 0.5, the
    # default region groups (saved resolved, and as None without regions).
    groups = {name: list(classes) for name, classes in DEFAULT_REGION_GROUPS.items()}
    retired = {"norm": "instance", "region_dilation": 3, "box_threshold": 0.5, "region_groups": groups}
    editor = _editor(region_source="box", max_displacement=0.05).eval()
    randomize_zero_initialised_layers(editor)
    loaded = HierarchicalExpressionGenerator.from_pretrained(_saved_with(tmp_path, editor, **retired)).eval()
    assert not retired.keys() & loaded.config.keys()
    images, probs, condition = _inputs()
    with torch.no_grad():
        assert torch.equal(editor(images, probs, condition).images, loaded(images, probs, condition).images)
    global_only = _saved_with(tmp_path / "none", _editor(region_source="none"), region_groups=None)
    assert HierarchicalExpressionGenerator.from_pretrained(global_only).region_names == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("norm", "batch"), ("region_dilation", 0), ("box_threshold", 0.3), ("region_groups", {"mouth": ["mouth"]})],
)
def test_models_saved_with_a_retired_option_at_another_value_are_refused_naming_it(tmp_path, key, value):
    folder = _saved_with(tmp_path, _editor(), **{key: value})
    with pytest.raises(ValueError, match=re.escape(f"config key '{key}' is {value!r}, but this version")) as error:
        HierarchicalExpressionGenerator.from_pretrained(folder)
    assert "\n" not in str(error.value)


def test_paper_preset_is_the_ganimation_generator():
    """GANimation's generator: 7x7 stem of 64 channels, two downsamplings to 256, six residual blocks, 7x7 heads;
    no skips, no warp, no FiLM."""
    editor = HierarchicalExpressionGenerator.from_preset("paper", region_source="none")
    stem = editor.global_generator.encoder[0].conv
    assert (stem.in_channels, stem.out_channels, stem.kernel_size, stem.stride) == (11, 64, (7, 7), (1, 1))
    assert editor.global_generator.feature_channels == 256 and len(editor.global_generator.bottleneck) == 6
    assert editor.global_generator.color_head.kernel_size == (7, 7) and len(editor.local_generators) == 0
    assert editor.global_generator.flow_head is None and not editor.global_generator.skip_connections
    assert not any(isinstance(module, FiLM) for module in editor.modules())


def test_synthfaces_preset_is_the_bundled_models_design():
    """The bundled model was trained with the `synthfaces` design: the preset must build exactly the editor its
    config describes (keys the config does not store take their defaults in both)."""
    bundled = json.loads((Path(hf_segan.__file__).parent / "assets/default_model/editor/config.json").read_text())
    preset = HierarchicalExpressionGenerator.from_preset("synthfaces").config
    loaded = HierarchicalExpressionGenerator.from_config(bundled).config
    assert {k: v for k, v in preset.items() if not k.startswith("_")} == {
        k: v for k, v in loaded.items() if not k.startswith("_")
    }


def test_preset_overrides_and_errors():
    editor = HierarchicalExpressionGenerator.from_preset("synthfaces", local_channels=32, region_source="box")
    assert (editor.config.local_channels, editor.config.region_source, editor.config.film_conditioning) == (
        32,
        "box",
        True,
    )
    assert "preset" not in editor.config  # a saved editor stores the resolved arguments, never the name
    assert editor_arguments({"base_channels": 4}) == {"base_channels": 4}
    with pytest.raises(ValueError, match=r"Unknown editor preset 'papr'; expected one of \['paper', 'synthfaces'\]"):
        HierarchicalExpressionGenerator.from_preset("papr")


@pytest.mark.parametrize("skip_connections", [False, True])
def test_skip_connections_hand_the_heads_the_input_detail(skip_connections):
    """With the bottleneck path cut, the global colour map still follows the input only through the skips."""
    torch.manual_seed(0)
    editor = _editor(region_source="none", skip_connections=skip_connections).eval()
    with torch.no_grad():
        for parameter in editor.global_generator.decoder[0].parameters():
            parameter.zero_()
    images, _, condition = _inputs()
    first = editor(images, None, condition).global_color
    second = editor(images.flip(-1), None, condition).global_color
    assert torch.allclose(first, second) != skip_connections
    heads_in = editor.global_generator.color_head.in_channels
    assert heads_in == (2 if skip_connections else 1) * TINY["base_channels"]


def test_warp_images_moves_pixels_by_the_flow():
    images = torch.rand(2, 3, SIZE, SIZE)
    assert torch.allclose(warp_images(images, torch.zeros(2, 2, SIZE, SIZE)), images, atol=1e-6)
    flow = torch.zeros(2, 2, SIZE, SIZE)
    flow[:, 0] = -2.0 / SIZE  # every pixel reads the one a pixel to its left: the image moves right by one
    flow[:, 1] = 4.0 / SIZE  # ... and reads two rows below: the image moves up by two
    moved = warp_images(images, flow)
    assert torch.allclose(moved[..., : SIZE - 2, 1:], images[..., 2:, : SIZE - 1], atol=1e-6)


@pytest.mark.parametrize("source", ["semantic", "none"])
def test_fresh_warping_editor_is_the_non_warping_editor(source):
    """The flow heads start at zero: before training, warping changes nothing."""
    torch.manual_seed(0)
    plain = _editor(region_source=source).eval()
    warping = _editor(region_source=source, max_displacement=0.05).eval()
    state = plain.state_dict()
    if source == "semantic":  # the seam refinement also reads and writes the two flow channels
        state = {key: value for key, value in state.items() if not key.startswith("fusion.")}
        state.update({k: v for k, v in warping.state_dict().items() if k.startswith("fusion.")})
        warping.fusion.refine[0].weight.data[:, [0, 1, 2, 3, 6]] = plain.fusion.refine[0].weight.data
        state["fusion.refine.0.weight"] = warping.fusion.refine[0].weight.data
        state["fusion.refine.0.bias"] = plain.fusion.refine[0].bias.data
    missing = warping.load_state_dict(state, strict=False).missing_keys
    assert missing and all("flow_head" in key for key in missing)
    images, probs, condition = _inputs()
    with torch.no_grad():
        expected, out = plain(images, probs, condition), warping(images, probs, condition)
    assert torch.equal(out.flow, torch.zeros(2, 2, SIZE, SIZE))
    torch.testing.assert_close(out.images, expected.images, atol=1e-5, rtol=0)


@pytest.mark.parametrize("source", ["semantic", "none"])
def test_fresh_film_editor_is_the_plain_editor_and_learns_the_modulation(source):
    """FiLM layers start as the identity; every one of them (global and local) gets a gradient."""
    torch.manual_seed(0)
    plain = _editor(region_source=source, max_displacement=0.05).eval()
    film = _editor(region_source=source, max_displacement=0.05, film_conditioning=True).eval()
    missing = film.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(".film.proj." in key for key in missing)
    images, probs, condition = _inputs()
    with torch.no_grad():
        assert torch.equal(film(images, probs, condition).images, plain(images, probs, condition).images)
    film.train()
    film(images, probs, condition).images.square().mean().backward()
    projections = [module.proj for module in film.modules() if isinstance(module, FiLM)]
    assert len(projections) == len(missing) // 2
    assert all(projection.weight.grad.abs().sum() > 0 for projection in projections)


def test_flow_is_bounded_and_editable_regions_keep_every_other_pixel_exactly_when_warping():
    editor = _editor(max_displacement=0.05)
    with torch.no_grad():
        editor.global_generator.flow_head.bias.fill_(10.0)  # saturate: every pixel wants to move the most
    images, probs, condition = _inputs()
    out = editor(images, probs, condition)
    assert out.flow.abs().max() <= 2 * 0.05 + 1e-6 and out.flow.abs().max() > 0.09
    edit = editor(images, probs, condition, editable_regions=["mouth"])
    outside = _outside_mouth().expand(-1, 3, -1, -1)
    assert torch.equal(edit.images[outside], images[outside])
    assert (edit.images != images).any()
    with pytest.raises(ValueError, match=r"`max_displacement` must be in \[0, 0.5\]"):
        _editor(max_displacement=0.7)


def test_flow_heads_learn_through_the_warp():
    """Zero-initialised flow heads get gradients only through the warped input: the composition must use it."""
    editor = _editor(max_displacement=0.05)
    images, probs, condition = _inputs()
    torch.nn.functional.l1_loss(editor(images, probs, condition).images, images.roll(1, -1)).backward()
    heads = [editor.global_generator.flow_head] + [local.flow_head for local in editor.local_generators]
    assert all(head.weight.grad.abs().sum() > 0 for head in heads)


def test_fused_heads_compute_each_head_and_train_each_heads_parameters():
    """One convolution with the stacked filters is, channel for channel, each head applied on its own; absent heads
    (no warp) are skipped, and every head's own weights get their share of the gradient."""
    features = torch.randn(2, 5, 9, 9)
    heads = [torch.nn.Conv2d(5, channels, 3, padding=1) for channels in (3, 1, 2)]
    fused = apply_heads(features, [heads[0], heads[1], None, heads[2]])
    torch.testing.assert_close(fused, torch.cat([head(features) for head in heads], dim=1))
    fused[:, 3:4].sum().backward()
    assert heads[1].weight.grad.abs().sum() > 0
    assert heads[0].weight.grad.abs().sum() == 0 and heads[2].weight.grad.abs().sum() == 0


def test_bad_inputs_raise_clear_errors():
    editor = _editor()
    images, probs, condition = _inputs()
    with pytest.raises(ValueError, match=r"`parsing_probs` must have 19 channels"):
        editor(images, probs[:, :18], condition)
    with pytest.raises(ValueError, match=r"`images` values must lie in \[-1.0, 1.0\]"):
        editor(images * 5, probs, condition)
    with pytest.raises(ValueError, match=r"`condition` must have shape \(B, 8\)"):
        editor(images, probs, condition[:, :7])
    with pytest.raises(ValueError, match="multiples of 4"):
        editor(images[..., :30], probs, condition)
    with pytest.raises(ValueError, match="`parsing_probs` is required"):
        editor(images, None, condition)
    with pytest.raises(ValueError, match="`parsing_probs` has batch size 1"):
        editor(images, probs[:1], condition)
    with pytest.raises(ValueError, match="Unknown region_source 'landmarks'"):
        _editor(region_source="landmarks")
    # the global-only editor does not need a parser
    assert _editor(region_source="none")(images, None, condition).images.shape == images.shape


def test_editor_learns_a_fixed_target():
    editor = _editor()
    images, probs, condition = _inputs()
    ramp = torch.linspace(-0.8, 0.8, SIZE)
    target = torch.stack(
        [ramp.view(1, -1).expand(SIZE, SIZE), ramp.view(-1, 1).expand(SIZE, SIZE), -0.5 * images[0, 2]]
    )
    target = target.expand(2, -1, -1, -1)
    optimizer = torch.optim.Adam(editor.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = (editor(images, probs, condition).images - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
