"""The Local models tab: the known ONNX models, which are present in ONNX_MODELS_DIR, and
a download with a progress bar (``playground.local_models`` does the work with
huggingface_hub)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import gradio as gr
import pandas as pd

from playground import local_models
from playground.ui.session import Sessions

COLUMNS = ["name", "title", "present", "approx_gb", "vision", "source"]
POLL_S = 0.25
# Gigabytes per click from any visitor would fill a shared server's disk.
PUBLIC_NO_DOWNLOADS = ("Downloads are turned off on a public server; its owner can place "
                       "models in ONNX_MODELS_DIR.")  # the download reports bytes on disk about 4 times a second


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

    def download(self, name: str | None, progress: gr.Progress = gr.Progress()) -> list[Any]:
        """Download ``name`` into ONNX_MODELS_DIR with a progress bar (bytes on disk)."""
        if self.sessions.policy.public:
            raise gr.Error(PUBLIC_NO_DOWNLOADS, print_exception=False)
        if not name:
            raise gr.Error("Pick a model to download.", print_exception=False)
        latest: list[int] = []

        def report(done: int, total: int) -> None:
            latest[:] = [done, total]

        # The download reports from its own thread; gr.Progress only works in this
        # handler's context, so this thread relays the latest figure.
        with concurrent.futures.ThreadPoolExecutor(1, "onnx-download") as pool:
            # HF_ENDPOINT as the server's settings have it (huggingface_hub reads the
            # environment only once, at import).
            job = pool.submit(local_models.download, name, self.sessions.settings, report,
                              endpoint=self.sessions.settings.get("HF_ENDPOINT"))
            while not concurrent.futures.wait([job], timeout=POLL_S).done:
                if latest:
                    progress(tuple(latest), desc=f"Downloading {name}", unit="bytes")
            try:
                path = job.result()
            except local_models.DownloadError as exc:
                raise gr.Error(str(exc), title=f"{name} was not downloaded",
                               print_exception=False) from None
        return [f"Downloaded **{name}** to `{path}`: use it as `onnx:{name}`.",
                *self.refresh()]


def build(sessions: Sessions, tab: gr.Tab) -> None:
    """The tab's components and wiring (the table is re-read whenever the tab opens)."""
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
    # One download at a time: two sessions fetching the same folder would collide.
    download.click(panel.download, choice, [status, table, choice], concurrency_limit=1,
                   concurrency_id="download", api_visibility="private")
    refresh.click(panel.refresh, None, [table, choice], api_visibility="private")
    tab.select(panel.refresh, None, [table, choice], api_visibility="private")
