"""SLM Playground web app: ``python app.py`` (a Hugging Face Space runs this file too).

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default
127.0.0.1:7860). Tests build their own app with ``build_demo(settings)``.
"""

import logging
import os

from dotenv import load_dotenv

from playground.ui.layout import build_demo, launch_options

# .env fills in what the environment does not set (server settings and keys alike).
load_dotenv(override=False)

# Before build_demo: it attaches the key-redacting filter to the root handler.
logging.basicConfig(level=os.environ.get("PLAYGROUND_LOG_LEVEL", "WARNING").upper(),
                    format="%(levelname)s %(name)s: %(message)s")
# azure-core warns "Incomplete download." for every stopped stream; the page says so.
logging.getLogger("azure").setLevel(logging.ERROR)

demo = build_demo()


def launch() -> None:
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
                **launch_options())


if __name__ == "__main__":
    launch()
