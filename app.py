"""Character Studio: `python app.py` serves the studio at http://127.0.0.1:7860.

Importing this module builds the page (Hugging Face Spaces and the tests rely on that) but loads
no model: each model loads on first use, once, and is shared by all users.
"""

import argparse
import os

# Gradio runs handlers in parallel threads; OpenBLAS's own thread pool can then hang (seen: scipy's interpolation
# spinning forever in exec_blas_async_wait under concurrent requests). Its matrices here are tiny, so one thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from studio import build_studio, configure, launch  # noqa: E402

demo = build_studio()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Launch Character Studio in the browser.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to serve on")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)), help="port")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto picks CUDA when present")
    parser.add_argument("--weights-dir", help="folder with the model files (default: ./weights)")
    parser.add_argument("--chat-config", help="JSON file listing the chat engines visitors may choose (see README)")
    parser.add_argument("--chat-free-entry", action="store_true",
                        help="single-user local run only: let the page type any chat server URL or model path")
    parser.add_argument("--no-probe", action="store_true", help="do not look for chat servers on localhost at start")
    parser.add_argument("--allow-xtts", action="store_true",
                        help="turn on the XTTS voice (its model.pth is a pickle: only with files you trust)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.allow_xtts:
        from pipelines.speech.pipeline import ALLOW_XTTS_ENV

        os.environ[ALLOW_XTTS_ENV] = "1"
    configure(device=args.device, weights_dir=args.weights_dir, chat_config=args.chat_config,
              chat_free_entry=args.chat_free_entry, probe_chat_servers=not args.no_probe)
    launch(build_studio(), host=args.host, port=args.port, share=args.share)  # rebuilt: the page lists the engines found


if __name__ == "__main__":
    main()
