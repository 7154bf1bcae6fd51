"""The Gradio demo served for real and called through gradio_client: edits, error messages, caching."""

import socket
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest
import torch
from conftest import build_tiny_pipeline
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from matplotlib import cbook
from PIL import Image
from skimage import data

from hf_segan import alignment, landmarks, pipeline, space
from hf_segan.alignment import HAAR_FALLBACK_NOTE, detect_faces, find_faces
from hf_segan.cli import build_parser
from hf_segan.constants import EXPRESSIONS
from hf_segan.pipeline import SeganPipeline, default_model_path
from hf_segan.space import (
    EXAMPLES_DIR,
    LRUCache,
    SpaceEditor,
    build_demo,
    change_heatmap,
    face_region,
    launch_demo,
    parsing_legend,
)


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
    edited_path, (before_path, after_path), parsing_path, legend, change_path, notes = edit(client, astronaut)
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
    # a plain PNG with a landmark face: the only note is the edit's own, on this model's kind of edit
    assert notes.count("**Note:**") == 1 and "no geometry component" in notes
    # both face views show the face region of the photo: the part the landmark-aligned crop covers
    faces, _ = find_faces(photo, "largest", size=64)
    region = face_region(faces[0], photo.shape[:2])
    assert region[0].start <= face[0].start and region[1].start <= face[1].start  # it holds the Haar box
    # the parsing is the photo's parse_photo parsing over the photo, not the aligned crop's model parsing
    labels = skin_only_pipeline().parse_photo(photo, faces="largest").labels[region]
    assert np.array_equal(read(parsing_path), np.asarray(SeganPipeline.overlay(photo[region], labels)))
    # this parser calls every pixel skin; eyes, nose and lips come from the landmark masks photos are parsed with
    assert {"skin", "nose", "l_eye", "r_eye", "u_lip"} <= {entry["token"] for entry in legend}
    # what changed: black exactly where the edit left the photo's bytes, colour wherever it changed them
    change = read(change_path)
    untouched = (edited[region] == photo[region]).all(axis=2)
    assert change.shape == photo[region].shape and untouched.any() and not untouched.all()
    assert (change[untouched] == 0).all() and change[~untouched].any(axis=1).all()


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
    gallery, _ = client.predict(handle_file(str(astronaut)), 0.5, regions, api_name="/all_expressions")
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


def test_lru_cache_evicts_the_least_recently_used_entries_by_bytes():
    cache = LRUCache(max_bytes=10, size_of=len)
    computed = []

    def value(key):
        return cache.get_or_compute(key, lambda: computed.append(key) or key.upper())

    assert [value("aaaa"), value("bbbb"), value("aaaa")] == ["AAAA", "BBBB", "AAAA"]  # "bbbb" is now the oldest
    value("cccc")  # 12 bytes with the other two: "bbbb" goes
    assert cache.bytes == 8 and len(cache) == 2
    value("aaaa")
    value("bbbb")
    assert computed == ["aaaa", "bbbb", "cccc", "bbbb"]


def test_lru_cache_returns_but_never_keeps_a_value_above_its_budget():
    cache = LRUCache(max_bytes=10, size_of=len)
    cache.get_or_compute("small", lambda: "abc")
    assert cache.get_or_compute("huge", lambda: "x" * 11) == "x" * 11
    assert len(cache) == 1 and cache.bytes == 3


def test_parsing_legend_names_the_classes_present_in_class_order():
    labels = np.zeros((4, 4), dtype=np.int64)
    labels[0, 0], labels[1:3, 1:3] = 17, 11
    assert parsing_legend(labels) == [("mouth", "mouth"), ("hair", "hair")]  # labels 11 and 17


def test_cli_has_a_space_command():
    args = build_parser().parse_args(["space", "--model", "some/folder", "--port", "7861", "--share"])
    assert (args.model, args.port, args.share, args.host) == ("some/folder", 7861, True, None)


def test_identical_results_of_two_requests_are_separate_complete_files(client, astronaut):
    # Gradio's content-addressed writer gave both the same path and rewrote it under a downloading client
    first, second = edit(client, astronaut, "fear")[0], edit(client, astronaut, "fear")[0]
    assert first != second
    assert np.array_equal(read(first), read(second))


def test_the_page_names_its_limits_and_the_model_variable():
    from hf_segan.space import CONCURRENCY_LIMIT, QUEUE_SIZE, limits_markdown, load_space_pipeline

    assert "HF_SEGAN_MODEL" in load_space_pipeline(None)[1]
    limits = limits_markdown()
    assert f"At most {CONCURRENCY_LIMIT} requests" in limits and f"up to {QUEUE_SIZE} more" in limits
    assert "10 MB" in limits and "89 megapixels" in limits


def distinct_photos(folder, count):
    """``count`` photos with the astronaut's face at different places and sizes (different detections), at half
    the astronaut's size (a quarter of the pixels to edit, the face still well above the detector's minimum)."""
    photo, paths = data.astronaut()[::2, ::2], []
    for index in range(count):
        crop = photo[index * 3 : 256 - index * 2, index * 3 : 256 - index * 2]
        path = folder / f"photo_{index}.png"
        Image.fromarray(crop).save(path)
        paths.append(path)
    return paths


@pytest.fixture()
def fresh_server():
    """Start demos with their own (empty) caches; close them all afterwards."""
    demos = []

    def start(pipe=None, **kwargs):
        demo = build_demo(pipe or skin_only_pipeline(), device="cpu", **kwargs)
        launch_demo(demo, prevent_thread_lock=True, server_port=free_port(), quiet=True)
        demos.append(demo)
        return Client(demo.local_url, verbose=False)

    yield start
    for demo in demos:
        demo.close()


def test_eight_concurrent_clients_get_exactly_the_sequential_results(fresh_server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    photos = distinct_photos(tmp_path, 8)
    expressions = [EXPRESSIONS[i % len(EXPRESSIONS)] for i in range(8)]
    sequential_client = fresh_server()
    sequential = [read(edit(sequential_client, p, e)[0]) for p, e in zip(photos, expressions, strict=True)]
    url = fresh_server().src  # a second server: its caches cannot answer from the sequential run
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(
            pool.map(lambda job: read(edit(Client(url, verbose=False), *job)[0]), zip(photos, expressions, strict=True))
        )
    for index, (alone, together) in enumerate(zip(sequential, concurrent, strict=True)):
        assert np.array_equal(alone, together), f"request {index} differs under concurrency"


def test_the_concurrency_limit_holds_for_all_events_together(fresh_server, tmp_path):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from hf_segan.space import CONCURRENCY_LIMIT

    pipe = skin_only_pipeline()
    running, most, lock = 0, 0, threading.Lock()
    run_edit = pipe.edit_photo

    def counted(*args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.3)  # long enough for every admitted request to overlap
        try:
            return run_edit(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    pipe.edit_photo = counted
    url = fresh_server(pipe).src
    regions = ["eyes", "mouth", "nose"]
    jobs = [("/edit", p) for p in distinct_photos(tmp_path, 3)] + [("/all_expressions", tmp_path / "photo_0.png")] * 3

    def call(job):
        endpoint, photo = job
        client = Client(url, verbose=False)
        if endpoint == "/edit":
            return client.predict(handle_file(str(photo)), "sad", 1.0, regions, api_name=endpoint)
        return client.predict(handle_file(str(photo)), 0.5, regions, api_name=endpoint)

    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(call, jobs))
    assert most == CONCURRENCY_LIMIT


def test_results_are_deleted_from_the_server_after_their_lifetime(fresh_server, astronaut):
    import time

    from gradio.utils import get_upload_folder

    from hf_segan.space import ResultWriter

    # long enough for the upload to outlive the request (a shorter lifetime deletes it before it is read)
    result = edit(fresh_server(temp_file_lifetime_s=10), astronaut)
    # the client downloads each result under its server name
    on_server = [ResultWriter(get_upload_folder()).folder / Path(result[i]).name for i in (0, 2, 4)]
    assert all(path.is_file() for path in on_server)
    deadline = time.monotonic() + 60
    while any(path.exists() for path in on_server) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(path.exists() for path in on_server)


def test_photos_above_the_decoding_work_size_are_edited_at_full_size(tmp_path, monkeypatch):
    from hf_segan import io

    monkeypatch.setattr(io, "WORK_PIXELS", 100_000)  # the astronaut (262k pixels) is "huge" for this test
    path = tmp_path / "big.png"
    Image.fromarray(data.astronaut()).save(path)
    editor = SpaceEditor(skin_only_pipeline())
    prepared, result = editor.edit(str(path), "happy", 1.0, None)
    assert prepared.image.notes == [] and result.photo.size == (512, 512)
    expected = skin_only_pipeline().edit_photo(data.astronaut(), "happy", 1.0).image
    assert np.array_equal(np.asarray(result.photo), np.asarray(expected))


def test_caches_stay_within_their_byte_budget(tmp_path):
    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    # one edit of a 512x512 photo holds the RGB photo (786,432 bytes) and the change map of the face region (well
    # under 200 kB): a 2 MB budget keeps two
    editor = SpaceEditor(skin_only_pipeline(), cache_bytes=2_000_000)
    _, edits = editor.all_expressions(str(path), 1.0, None)
    assert len(edits) == len(EXPRESSIONS)
    assert len(editor._edits) == 2 and editor._edits.bytes <= 2_000_000
    assert editor._photos.bytes <= 2_000_000 and len(editor._photos) == 1


def test_notes_on_how_the_photo_was_read_come_with_the_result(client, tmp_path):
    path = tmp_path / "animated.gif"
    first = Image.fromarray(data.astronaut())
    first.save(path, save_all=True, append_images=[first.rotate(90)], duration=100)
    notes = edit(client, path)[-1]
    assert "animated.gif: animated image with 2 frames; only the first frame is used." in notes
    assert str(tmp_path) not in notes and "/gradio" not in notes  # the user's file name, never a server path


def count_calls(monkeypatch, module, name: str, counts: dict[str, int]) -> None:
    """Replace ``module.name`` by a wrapper that counts its calls in ``counts[name]``."""
    function = getattr(module, name)

    def counted(*args, **kwargs):
        counts[name] += 1
        return function(*args, **kwargs)

    counts.setdefault(name, 0)
    monkeypatch.setattr(module, name, counted)


def test_the_bundled_models_space_finds_the_face_once_and_edits_and_parses_as_the_pipeline(monkeypatch):
    example = EXAMPLES_DIR / "astronaut.jpg"
    pipe = SeganPipeline.from_pretrained(default_model_path())
    assert pipe.geometry is not None and not pipe.editor.config.trained_on_real_photos
    expected = {name: pipe.edit_photo(str(example), name) for name in ("surprise", "happy")}
    expected_labels = pipe.parse_photo(str(example), parser="landmarks").labels
    counts: dict[str, int] = {}
    count_calls(monkeypatch, landmarks, "detect_face_boxes", counts)
    for module in (landmarks, pipeline):  # the landmark net, also where edit_photo takes landmarks in a box
        count_calls(monkeypatch, module, "landmarks_in_box", counts)
    editor = SpaceEditor(pipe)
    prepared, result = editor.edit(str(example), "surprise", 1.0, None)
    _, second = editor.edit(str(example), "happy", 1.0, None)  # a second edit of the same upload
    assert counts == {"detect_face_boxes": 1, "landmarks_in_box": 1}  # once per upload, not per use or edit
    for edited, name in ((result, "surprise"), (second, "happy")):
        assert np.array_equal(np.asarray(edited.photo), np.asarray(expected[name].image))
        assert edited.notes == tuple(expected[name].notes)
    assert prepared.parsing.parser == "landmarks"
    assert np.array_equal(prepared.parsing.labels, expected_labels)


def test_a_model_without_geometry_finds_its_haar_box_once_per_upload(monkeypatch, astronaut):
    """Its learned edit aligns the largest Haar box, as edit_photo's own detection does, found once per photo."""
    pipe = skin_only_pipeline()
    expected = {name: np.asarray(pipe.edit_photo(data.astronaut(), name, 0.7).image) for name in ("sad", "fear")}
    counts: dict[str, int] = {}
    count_calls(monkeypatch, alignment, "detect_faces", counts)
    count_calls(monkeypatch, space, "detect_faces", counts)
    count_calls(monkeypatch, pipeline, "detect_faces", counts)
    editor = SpaceEditor(skin_only_pipeline())
    for name in ("sad", "fear"):
        assert np.array_equal(np.asarray(editor.edit(str(astronaut), name, 0.7, None)[1].photo), expected[name])
    assert sum(counts.values()) == 1  # the Space's one Haar detection; the landmark detector found the face


def test_change_heatmap_is_black_where_unchanged_and_brightest_at_the_largest_change():
    original = np.zeros((2, 3, 3), np.uint8)
    edited = original.copy()
    edited[0, 1] = (0, 40, 0)
    edited[1, 2] = (10, 0, 0)
    heat = change_heatmap(original, edited)
    assert (heat[(edited == 0).all(axis=2)] == 0).all()
    assert heat[0, 1].sum() > heat[1, 2].sum() > 0
    assert not change_heatmap(original, original).any()


def test_a_haar_fallback_face_comes_with_its_note(fresh_server, astronaut, monkeypatch):
    from hf_segan import alignment

    monkeypatch.setattr(alignment, "_detect_landmark_faces", lambda *args: [])  # the landmark detector finds none
    notes = edit(fresh_server(), astronaut)[-1]
    assert HAAR_FALLBACK_NOTE in notes


def test_the_glasses_choice_reaches_the_edit_and_is_checked(tmp_path):
    """Grace Hopper wears glasses: 'auto' keeps her brows (and frame) still, as the pipeline does; 'no' moves them
    as edit_photo(glasses=False) does; a choice the page does not offer is a readable error."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        image.convert("RGB").save(tmp_path / "grace.png")
    pipe = SeganPipeline.from_pretrained(default_model_path())
    editor = SpaceEditor(pipe)
    for choice, glasses in (("auto", None), ("no", False)):
        _, result = editor.edit(str(tmp_path / "grace.png"), "surprise", 1.0, None, choice)
        expected = pipe.edit_photo(str(tmp_path / "grace.png"), "surprise", glasses=glasses)
        assert np.array_equal(np.asarray(result.photo), np.asarray(expected.image)), choice
    _, auto = editor.edit(str(tmp_path / "grace.png"), "surprise", 1.0, None, "auto")
    _, moved = editor.edit(str(tmp_path / "grace.png"), "surprise", 1.0, None, "no")
    assert not np.array_equal(np.asarray(auto.photo), np.asarray(moved.photo))
    with pytest.raises(gr.Error, match="Glasses must be one of auto, yes, no"):
        editor.edit(str(tmp_path / "grace.png"), "surprise", 1.0, None, "maybe")
