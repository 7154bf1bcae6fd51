"""Hugging Face Space entry point: the hf_segan expression-editing demo.

Written by `hf-segan space --export`. Model: ``HF_SEGAN_MODEL`` (a SeganPipeline folder or hub id) when set,
else the small model bundled with the hf_segan package beside this file.

The page states which model it runs. The Space runtime sets the host and port through Gradio's environment
variables (``GRADIO_SERVER_NAME``, ``GRADIO_SERVER_PORT``).
"""

import os

from hf_segan.space import build_demo, launch_demo

EXPORTED_MODEL = None

demo = build_demo(os.environ.get("HF_SEGAN_MODEL") or EXPORTED_MODEL)

if __name__ == "__main__":
    launch_demo(demo)
