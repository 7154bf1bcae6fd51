"""``hf-segan space``: serve the Gradio demo of the Hugging Face Space locally."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "space",
        help="Serve the interactive Gradio demo (the Hugging Face Space) on this machine.",
        description="Upload photos in a browser, edit their expression and inspect the parsing and attention.",
    )
    parser.add_argument("--model", help="SeganPipeline folder or hub id (default: the bundled SynthFaces model)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--port", type=int, help="server port (default: Gradio's, 7860 or the next free one)")
    parser.add_argument("--host", help="address to listen on (default: 127.0.0.1; 0.0.0.0 serves the network)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..space import build_demo, launch_demo

    demo = build_demo(args.model, device=args.device)
    launch_demo(demo, server_name=args.host, server_port=args.port, share=args.share)
    return 0
