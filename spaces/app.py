"""Hugging Face Space entry point: the hf_segan expression-editing demo.

The model is ``HF_SEGAN_MODEL`` (a SeganPipeline folder or hub id) when set, else the small model bundled with
the package; the page states which. The Space runtime sets the host and port through Gradio's own environment
variables (``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``).
"""

import os

from hf_segan.space import build_demo, launch_demo

demo = build_demo(os.environ.get("HF_SEGAN_MODEL"))

if __name__ == "__main__":
    launch_demo(demo)
