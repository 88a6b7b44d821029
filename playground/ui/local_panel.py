"""The Local models tab: the known ONNX models, which are present in ONNX_MODELS_DIR, and
a download with a progress bar (``playground.local_models`` does the work with
huggingface_hub)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from playground import local_models
from playground.ui import preload_view
from playground.ui.session import Sessions
from providers.settings import Settings

COLUMNS = ["name", "title", "present", "approx_gb", "vision", "source"]
POLL_S = 0.25  # the download reports bytes on disk about 4 times a second
# Gigabytes per click from any visitor would fill a shared server's disk.
PUBLIC_NO_DOWNLOADS = ("Downloads are turned off on a public server; its owner can place "
                       "models in ONNX_MODELS_DIR.")
# Two downloads into one folder would collide: the server's own preload goes first.
PRELOADING = ("This server is downloading {name} already (PLAYGROUND_PRELOAD_MODELS); "
              "its progress is on the Compare tab.")


class LocalPanel:
    """Handlers of the Local models tab (the server's ONNX_MODELS_DIR, for everyone)."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def rows(self) -> list[dict[str, Any]]:
        return local_models.local_models(self.sessions.settings)

    def table(self) -> pd.DataFrame:
        """Known models and other model folders, with whether each is present."""
        rows = [{"name": r["name"], "title": r["title"],
                 "present": "yes" if r["present"] else ("partial" if r["partial"] else "no"),
                 "approx_gb": r["approx_gb"], "vision": "yes" if r["vision"] else "",
                 "source": f"{r['repo_id']} / {r['subfolder']}" if r["known"] else r["path"]}
                for r in self.rows()]
        return pd.DataFrame(rows, columns=COLUMNS)

    def downloadable(self) -> list[str]:
        return [r["name"] for r in self.rows() if r["known"] and not r["present"]]

    def refresh(self) -> list[Any]:
        return [self.table(), gr.update(choices=self.downloadable(), value=None)]

    def download(self, name: str | None, progress: gr.Progress = gr.Progress()) -> str:
        """Download ``name`` into ONNX_MODELS_DIR with a progress bar (bytes on disk);
        returns the status line. A refusal or a failure is a message in that line, never
        an error overlay: the table and the dropdown stay usable."""
        if self.sessions.policy.public:
            return refused(PUBLIC_NO_DOWNLOADS)
        if not name:
            return refused("Pick a model to download first (the list above the button).")
        if name in preload_view.busy():
            return refused(PRELOADING.format(name=name))
        try:
            path = fetch(name, self.sessions.settings, progress, f"Downloading {name}")
        except local_models.DownloadError as exc:
            return refused(f"**{name} was not downloaded.** {exc}")
        return f"Downloaded **{name}** to `{path}`: use it as `onnx:{name}`."


def refused(message: str) -> str:
    """A refusal for the status line beside the button. Not also a toast: toasts pile up
    in the top right corner, over the page's inputs, for 10 s each."""
    return f"✗ {message}"


def fetch(name: str, settings: Settings, progress: Any, desc: str) -> Path:
    """Download known model ``name`` (``local_models.download``) while relaying its
    progress to ``progress`` (a gr.Progress) as (bytes on disk, total bytes).

    The download reports from its own thread; gr.Progress only works in the handler's
    context, so the handler's thread relays the latest figure. Raises DownloadError."""
    latest: list[int] = []

    def report(done: int, total: int) -> None:
        latest[:] = [done, total]

    with concurrent.futures.ThreadPoolExecutor(1, "onnx-download") as pool:
        # HF_ENDPOINT as the server's settings have it (huggingface_hub reads the
        # environment only once, at import).
        job = pool.submit(local_models.download, name, settings, report,
                          endpoint=settings.get("HF_ENDPOINT"))
        while not concurrent.futures.wait([job], timeout=POLL_S).done:
            if latest:
                progress(tuple(latest), desc=desc, unit="bytes")
        return job.result()


def build(sessions: Sessions, tab: gr.Tab) -> Any:
    """The tab's components and wiring (the table is re-read whenever the tab opens);
    returns the download event, for the page to refresh what can run after it."""
    panel = LocalPanel(sessions)
    gr.Markdown("Phi models that run on this machine's CPU with ONNX Runtime GenAI (int4), "
                "kept in `ONNX_MODELS_DIR`. A present model is used as `onnx:NAME`. "
                "Downloads come from the Hugging Face Hub (`python -m playground models "
                "download NAME` does the same from a terminal).")
    table = gr.Dataframe(panel.table(), interactive=False, elem_id="local-models")
    with gr.Row():
        choice = gr.Dropdown(panel.downloadable(), value=None, label="Model to download",
                             elem_id="local-choice")
        download = gr.Button("Download", variant="primary", elem_id="local-download",
                             interactive=not sessions.policy.public)
        refresh = gr.Button("Refresh", elem_id="local-refresh")
    status = gr.Markdown(PUBLIC_NO_DOWNLOADS if sessions.policy.public else "",
                         elem_id="local-status")
    # One download at a time: two sessions fetching the same folder would collide. The
    # progress bar shows in the status line only (the event's one output), so the table
    # and the dropdown stay usable; the table is re-read afterwards.
    done = download.click(panel.download, choice, status, concurrency_limit=1,
                          concurrency_id="download", api_visibility="private")
    done.then(panel.refresh, None, [table, choice], api_visibility="private")
    refresh.click(panel.refresh, None, [table, choice], api_visibility="private")
    tab.select(panel.refresh, None, [table, choice], api_visibility="private")
    return done
