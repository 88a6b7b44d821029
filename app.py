"""SLM Playground web app: ``python app.py`` (a Hugging Face Space runs this file too).

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default
127.0.0.1:7860). ``PLAYGROUND_PRELOAD_MODELS`` downloads local models in the background
as the app starts (``playground.preload``). Tests build their own app with
``build_demo(settings)``.
"""

import logging

from dotenv import load_dotenv

from playground.ui.layout import build_demo, launch_options
from providers.settings import Settings

# .env fills in what the environment does not set (server settings and keys alike), for
# the libraries that read the environment themselves (Gradio, huggingface_hub).
load_dotenv(override=False)
settings = Settings.load()

# Before build_demo: it attaches the key-redacting filter to the root handler.
logging.basicConfig(level=(settings.get("PLAYGROUND_LOG_LEVEL") or "WARNING").upper(),
                    format="%(levelname)s %(name)s: %(message)s")
if logging.INFO < logging.getLogger().level < logging.ERROR:
    # A Space owner watches the model preload's progress in the log (playground.preload).
    logging.getLogger("playground.preload").setLevel(logging.INFO)
# azure-core warns "Incomplete download." for every stopped stream; the page says so.
logging.getLogger("azure").setLevel(logging.ERROR)

demo = build_demo()


def launch() -> None:
    demo.launch(server_name=settings.get("GRADIO_SERVER_NAME") or "127.0.0.1",
                server_port=settings.integer("GRADIO_SERVER_PORT", 7860, maximum=65535),
                **launch_options())


if __name__ == "__main__":
    launch()
