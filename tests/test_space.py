"""The Gradio demo served for real and called through gradio_client: edits, error messages, caching."""

import socket

import httpx
import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from skimage import data

from hf_segan.alignment import detect_faces
from hf_segan.cli import build_parser
from hf_segan.constants import EXPRESSIONS
from hf_segan.space import LRUCache, SpaceEditor, build_demo, launch_demo, parsing_annotations


def skin_only_pipeline():
    """A tiny pipeline whose parser is certain every pixel is skin, so the expected parsing is known."""
    pipe = build_tiny_pipeline()
    with torch.no_grad():
        pipe.parser.classifier.bias[1] = 50.0
    return pipe


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def client():
    demo = build_demo(skin_only_pipeline(), device="cpu")
    launch_demo(demo, prevent_thread_lock=True, server_port=free_port(), quiet=True, max_file_size="1mb")
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def edit(client, path, expression="happy", intensity=1.0, regions=("eyes", "mouth", "nose")):
    return client.predict(handle_file(str(path)), expression, intensity, list(regions), api_name="/edit")


def read(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_edit_changes_the_face_and_leaves_the_rest_of_the_photo_byte_identical(client, astronaut):
    photo = data.astronaut()
    edited_path, (before_path, after_path), parsing, attention_path = edit(client, astronaut)
    edited = read(edited_path)
    assert edited.shape == photo.shape
    box = max(detect_faces(photo), key=lambda b: b.area)
    # Haar boxes span brows to mouth; the pasted face also covers the chin, so "far from the face" is outside the
    # box doubled about its centre.
    cx, cy, half_w, half_h = box.x + box.width / 2, box.y + box.height / 2, box.width, box.height
    x0, x1 = int(cx - half_w), int(np.ceil(cx + half_w))
    y0, y1 = int(cy - half_h), int(np.ceil(cy + half_h))
    face = (slice(int(box.y), int(box.y + box.height)), slice(int(box.x), int(box.x + box.width)))
    assert np.abs(edited[face].astype(int) - photo[face]).mean() > 1.0
    outside = np.ones(photo.shape[:2], dtype=bool)
    outside[max(y0, 0) : y1, max(x0, 0) : x1] = False
    assert np.array_equal(edited[outside], photo[outside])
    # the comparison shows the upload next to the same edit
    assert np.array_equal(read(before_path), photo) and np.array_equal(read(after_path), edited)
    # parsing and attention describe the 64 px aligned crop, each model pixel shown as a 4x4 block
    assert [annotation["label"] for annotation in parsing["annotations"]] == ["skin"]
    assert read(parsing["image"]).shape == (256, 256, 3)
    with Image.open(attention_path) as attention:
        assert attention.size == (256, 256) and attention.mode == "L"
        blocks = np.asarray(attention).reshape(64, 4, 64, 4)
        assert (blocks == blocks[:, :1, :, :1]).all()


def test_unreadable_upload_is_a_readable_error_and_the_server_keeps_serving(client, astronaut, tmp_path):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is a text file with an image's name")
    with pytest.raises(AppError, match=r"holiday\.png: not an image .*accepted: PNG, JPEG"):
        edit(client, fake)
    assert read(edit(client, astronaut, "sad")[0]).shape == data.astronaut().shape


def test_photo_without_a_face_is_a_readable_error(client, tmp_path):
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((96, 128, 3), 180, np.uint8)).save(blank)
    with pytest.raises(AppError, match=r"no face found in wall\.png"):
        edit(client, blank)


def test_upload_above_the_size_limit_is_refused_by_the_server(client):
    upload = f"{client.src.rstrip('/')}/gradio_api/upload"
    big = ("big.png", np.random.default_rng(0).bytes(1_200_000), "image/png")  # above this server's 1 MB limit
    refused = httpx.post(upload, files={"files": big})
    assert refused.status_code == 413 and "maximum allowed size" in refused.text
    assert httpx.post(upload, files={"files": ("small.png", b"x" * 1000, "image/png")}).status_code == 200


# all regions ticked means the whole face may change (no restriction), not only the union of the three regions
@pytest.mark.parametrize(("ticked", "restriction"), [(["mouth"], ["mouth"]), (["eyes", "mouth", "nose"], None)])
def test_served_edit_is_the_pipelines_edit_with_the_chosen_settings(client, astronaut, ticked, restriction):
    expected = skin_only_pipeline().edit_photo(data.astronaut(), "sad", 0.7, regions=restriction).image
    assert np.array_equal(read(edit(client, astronaut, "sad", 0.7, ticked)[0]), np.asarray(expected))


def test_no_region_ticked_is_a_readable_error(client, astronaut):
    with pytest.raises(AppError, match="Tick at least one region"):
        edit(client, astronaut, regions=())


def test_gallery_holds_one_captioned_edit_per_expression_matching_the_single_edit(client, astronaut):
    regions = ["eyes", "mouth", "nose"]
    gallery = client.predict(handle_file(str(astronaut)), 0.5, regions, api_name="/all_expressions")
    assert [item["caption"] for item in gallery] == list(EXPRESSIONS)
    images = [read(item["image"]) for item in gallery]
    assert not np.array_equal(images[EXPRESSIONS.index("happy")], images[EXPRESSIONS.index("sad")])
    single = read(edit(client, astronaut, "surprise", 0.5, regions)[0])
    assert np.array_equal(images[EXPRESSIONS.index("surprise")], single)


def test_edits_are_cached_per_photo_content_and_settings(tmp_path):
    editor = SpaceEditor(build_tiny_pipeline())
    calls = []
    run_edit = editor.pipe.edit_photo
    editor.pipe.edit_photo = lambda *args, **kwargs: calls.append(args[1:3]) or run_edit(*args, **kwargs)
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(data.astronaut()).save(first)
    second.write_bytes(first.read_bytes())
    a = editor.edit(str(first), "happy", 1.0, None)[1]
    b = editor.edit(str(second), "happy", 1.0, ["eyes", "mouth", "nose"])[1]  # same bytes, all regions = None
    editor.edit(str(first), "happy", 0.5, None)
    assert b is a and calls == [("happy", 1.0), ("happy", 0.5)]


def test_lru_cache_evicts_the_least_recently_used_entry():
    cache = LRUCache(2)
    computed = []

    def value(key):
        return cache.get_or_compute(key, lambda: computed.append(key) or key.upper())

    assert [value("a"), value("b"), value("a"), value("c")] == ["A", "B", "A", "C"]  # "b" is now the oldest
    value("a")
    value("b")
    assert computed == ["a", "b", "c", "b"] and len(cache) == 2


def test_parsing_annotations_name_the_classes_present():
    labels = np.zeros((4, 4), dtype=np.int64)
    labels[0, 0], labels[1:3, 1:3] = 17, 11
    annotations = parsing_annotations(labels)
    assert [name for _, name in annotations] == ["mouth", "hair"]
    assert annotations[0][0].sum() == 4 and annotations[1][0][0, 0] == 1.0


def test_cli_has_a_space_command():
    args = build_parser().parse_args(["space", "--model", "some/folder", "--port", "7861", "--share"])
    assert (args.model, args.port, args.share, args.host) == ("some/folder", 7861, True, None)
