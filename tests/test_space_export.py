"""``hf-segan space --export``: a Space folder that installs offline in a fresh virtualenv and serves requests;
``spaces/`` is that export; a missing Gradio is one line naming the extra."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import tomllib
from gradio_client import Client, handle_file
from PIL import Image
from skimage import data

from hf_segan.cli import main
from hf_segan.space_export import SPACE_TEXT_FILES, export_space

REPO = Path(__file__).resolve().parent.parent


def test_spaces_folder_is_the_default_export(tmp_path):
    exported = export_space(tmp_path / "space")
    for name in SPACE_TEXT_FILES:
        assert (REPO / "spaces" / name).read_text() == (exported / name).read_text(), (
            f"spaces/{name} is stale: regenerate it with hf-segan space --export (docs/space.md)"
        )


def test_requirements_pin_cpu_torch_and_list_every_dependency_but_never_hf_segan(tmp_path):
    lines = [
        line
        for line in (export_space(tmp_path / "space") / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines and "torch==2.13.0+cpu" in lines
    assert "gradio==6.31.0" in lines
    names = {line.split("=")[0].split(">")[0].split("<")[0].lower() for line in lines if not line.startswith("-")}
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        assert requirement.split(">")[0].split("=")[0].lower() in names
    assert "hf_segan" not in names and "hf-segan" not in names


def test_export_never_writes_into_an_existing_folder(tmp_path):
    target = tmp_path / "space"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    assert main(["space", "--export", str(target)]) == 2
    assert [p.name for p in target.iterdir()] == ["mine.txt"] and (target / "mine.txt").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["space"]  # no staging folder left behind


def test_export_copies_a_model_folder_without_pickle_files_and_serves_it_by_default(tmp_path, tiny_pipeline_dir):
    model = tmp_path / "model_src"
    model.mkdir()
    for item in tiny_pipeline_dir.rglob("*"):
        if item.is_file():
            (model / item.relative_to(tiny_pipeline_dir)).parent.mkdir(parents=True, exist_ok=True)
            (model / item.relative_to(tiny_pipeline_dir)).write_bytes(item.read_bytes())
    (model / "editor" / "old_weights.bin").write_bytes(b"a pickle")
    exported = export_space(tmp_path / "space", model)
    assert (exported / "model" / "model_index.json").is_file()
    assert not list((exported / "model").rglob("*.bin"))
    assert 'EXPORTED_MODEL = str(Path(__file__).parent / "model")' in (exported / "app.py").read_text()


def test_a_hub_model_is_named_in_the_app_and_the_space_header(tmp_path):
    exported = export_space(tmp_path / "space", "someone/segan-model")
    assert "EXPORTED_MODEL = 'someone/segan-model'" in (exported / "app.py").read_text()
    assert "models:\n  - someone/segan-model\n" in (exported / "README.md").read_text()


def test_missing_gradio_is_one_line_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now raises ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "hf_segan.space", raising=False)
    assert main(["space"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "hf_segan[space]"' in err and "Traceback" not in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_exported_space_installs_offline_in_a_fresh_venv_and_serves_a_request(tmp_path):
    space = export_space(tmp_path / "space")
    venv = tmp_path / "venv"
    # --system-site-packages: the venv sees what this machine has installed, nothing else (no index, no network);
    # hf_segan is not among it, so the app can only import the copy inside the exported folder. --without-pip:
    # the machine's pip runs inside the venv (ensurepip would add a setuptools older than torch requires).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", HF_HUB_OFFLINE="1")
    env.update(GRADIO_ANALYTICS_ENABLED="False", GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "-r", "requirements.txt"],
        cwd=space,
        env=env,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    where = [python, "-c", "import hf_segan; print(hf_segan.__file__)"]
    assert subprocess.run(where, cwd=tmp_path, env=env, capture_output=True).returncode != 0  # not installed
    found = subprocess.run(where, cwd=space, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(found.strip()).is_relative_to(space)

    port = free_port()
    env.update(GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([python, "app.py"], cwd=space, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 240
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the exported Space did not start"
            time.sleep(1)
        photo = tmp_path / "astronaut.png"
        Image.fromarray(data.astronaut()).save(photo)
        edited = Client(url, verbose=False).predict(path=handle_file(str(photo)), api_name="/edit")[0]
        with Image.open(edited) as image:
            assert np.asarray(image.convert("RGB")).shape == data.astronaut().shape
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
