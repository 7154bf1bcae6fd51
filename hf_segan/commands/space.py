"""``hf-segan space``: serve the Gradio demo of the Hugging Face Space locally, or export it as a Space folder."""

from __future__ import annotations

import argparse
import os

#: What to install when Gradio is missing (it is an optional extra of the package).
GRADIO_MISSING = 'Gradio is not installed; the Space needs the "space" extra: pip install "hf_segan[space]"'


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "space",
        help="Serve the interactive Gradio demo (the Hugging Face Space) on this machine, or export it.",
        description="Upload photos in a browser, edit their expression and inspect the parsing and what changed. "
        "With --export, write a complete Hugging Face Space folder instead of serving.",
    )
    parser.add_argument(
        "--model",
        default=os.environ.get("HF_SEGAN_MODEL"),
        help="SeganPipeline folder or hub id (default: $HF_SEGAN_MODEL, else the bundled default model)",
    )
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--port", type=int, help="server port (default: Gradio's, 7860 or the next free one)")
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1; 0.0.0.0 serves the network)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument(
        "--export",
        metavar="DIR",
        help="write a Space folder (app.py, README.md, requirements.txt, the hf_segan package, the model) to the "
        "new folder DIR and exit; push DIR to a Gradio Space as it is",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..space import build_demo, launch_demo
        from ..space_export import export_space
    except ModuleNotFoundError as error:
        if error.name not in ("gradio", "gradio_client"):
            raise
        raise ValueError(GRADIO_MISSING) from None
    if args.export:
        folder = export_space(args.export, args.model)
        print(f"Wrote the Space to {folder}: push it to a Gradio Space, or run `python app.py` inside it.")
        return 0
    demo = build_demo(args.model, device=args.device)
    launch_demo(demo, server_name=args.host, server_port=args.port, share=args.share)
    return 0
