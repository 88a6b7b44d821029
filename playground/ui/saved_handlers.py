"""Save and share a whole comparison from the page: Save, the read-only view a link
``/?comparison=ID`` opens, "Continue from here", the session's list of saved comparisons
and the HTML download. Plain methods; ``saved_view`` wires them.

Owner (who a list shows saved comparisons to): on a public server, a token this server
signs (``saved.OwnerKeys``) at the browser's first save and the browser keeps
(``gr.BrowserState``), so the list survives reloads and link clicks. Not Gradio's session
hash: the client picks that one (``Math.random``), it changes with every page load and
it travels in URLs. On your own machine the owner is nobody (None): every tab and the
CLI share one list. Opening a link needs only its id.
"""

from __future__ import annotations

import html
import logging
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from playground import comparison_doc as doc
from playground import saved
from playground.conversation import Conversation, Params
from playground.html_export import comparison_body, render_html
from playground.saved import ComparisonStore, ShareError
from playground.ui import readiness_view, render
from playground.ui.conversation_panes import chat_messages, table_rows
from playground.ui.exports import KEEP_S, RunRecord, prune
from playground.ui.handlers import N_SLOTS, CompareView
from playground.ui.session import Sessions
from playground.validate import InputError

HISTORY_LIMIT = 50
# What a store that cannot be used raises (a bad PLAYGROUND_DB, a corrupt or read-only
# file, a database server gone): the visitor is told it is unavailable, the log says why.
STORE_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError, RuntimeError, ValueError)
UNAVAILABLE = ("Saved comparisons are not available right now: this server's store "
               "cannot be used (its log says why).")
log = logging.getLogger(__name__)
PUBLIC_MAX_SAVES = 100  # per browser (owner token) on a public server: each is up to 5 MB on disk
EXPORT_ROOT = Path(tempfile.gettempdir()) / "slm-playground-exports"


def default_store(sessions: Sessions) -> ComparisonStore:
    """The server's store (``PLAYGROUND_DB``), redacting the server's keys."""
    from playground.store import Store  # the database opens at the first save or link

    return Store(sessions.settings.get("PLAYGROUND_DB") or None,
                 sessions.settings.secret_values())


def current_document(conversation: Any, record: Any) -> dict[str, Any] | None:
    """The Compare tab's comparison as a document: its conversation when there is one,
    else the last one-turn run (``RunRecord``), else None."""
    if isinstance(conversation, Conversation) and conversation.panes:
        return conversation.to_document()
    if isinstance(conversation, dict):
        return conversation
    if isinstance(record, RunRecord):
        return doc.from_record(record.request, record.results)
    return None


def write_html(document: dict[str, Any], root: Path = EXPORT_ROOT) -> Path:
    """``document`` as ``slm-playground-<time>.html`` in a fresh folder under ``root``
    (folders older than an hour removed, as for the CSV and JSON downloads)."""
    root.mkdir(parents=True, exist_ok=True)
    prune(root, KEEP_S)
    folder = Path(tempfile.mkdtemp(prefix="html-", dir=root))
    stamp = str(document.get("saved_at") or doc.now_iso())
    path = folder / f"slm-playground-{stamp.replace(':', '').replace('+0000', 'Z')}.html"
    path.write_text(render_html(document), encoding="utf-8")
    return path


class SavedHandlers:
    """The handlers, sharing the server's :class:`Sessions` and one store (opened at the
    first use: a page that never saves never touches the database)."""

    def __init__(self, sessions: Sessions,
                 open_store: Callable[[], ComparisonStore] | None = None) -> None:
        self.sessions = sessions
        self._open_store = open_store or (lambda: default_store(sessions))
        self._store: ComparisonStore | None = None
        self._lock = threading.Lock()
        self.owner_keys = saved.OwnerKeys()

    @property
    def store(self) -> ComparisonStore:
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def token(self, kept: Any) -> str | None:
        """The browser's owner token on a public server (``kept`` when this server made
        it, else a new one); None elsewhere (one list for the machine)."""
        if not self.sessions.policy.public:
            return None
        return kept if self.owner_keys.valid(kept) else self.owner_keys.new()

    def _owner(self, token: str | None) -> str | None:
        return None if token is None else self.owner_keys.owner(token)

    def _secrets(self, keys: dict[str, str] | None) -> list[str]:
        try:
            return self.sessions.settings_for(keys).secret_values()
        except InputError:  # refused session values were never used: the server's keys
            return self.sessions.settings.secret_values()

    def save(self, conversation: Any, record: Any, base_url: str | None,
             keys: dict[str, str] | None, kept_token: str | None) -> list[Any]:
        """Save the Compare tab's comparison. Outputs: the link box, the history, the
        owner token (kept by the browser). Nothing to save, too large, or too many: a
        gr.Error toast."""
        document = current_document(conversation, record)
        token = self.token(kept_token)
        owner = self._owner(token)
        try:
            if document is None:
                raise ShareError("Nothing to save yet: run a comparison first.")
            if owner is not None and len(self.store.list_comparisons(
                    owner, PUBLIC_MAX_SAVES)) >= PUBLIC_MAX_SAVES:
                raise ShareError(f"This browser has saved {PUBLIC_MAX_SAVES} comparisons, "
                                 "the limit on this public server.")
            comparison_id = saved.save(self.store, document, owner, self._secrets(keys))
            history = self.history_markdown(owner)
        except ShareError as exc:
            raise gr.Error(html.escape(exc.message), title="Not saved",
                           print_exception=False) from None
        except STORE_ERRORS:
            log.exception("saving a comparison failed")
            raise gr.Error(UNAVAILABLE, title="Not saved", print_exception=False) from None
        link = saved.comparison_link(base_url or "/", comparison_id)
        return [gr.update(value=link, visible=True), history,
                token if token is not None else gr.skip()]

    def history_markdown(self, owner: str | None) -> str:
        """The saved comparisons ``owner`` may list, as Markdown links (newest first)."""
        if owner is None and self.sessions.policy.public:
            return "Nothing saved from this browser yet."
        entries = saved.history(self.store, owner, HISTORY_LIMIT)
        if not entries:
            return "Nothing saved yet."
        lines = [f"- [{_md(e['title'])}](?{saved.QUERY_NAME}={e['id']}) · {e['saved_at']} · "
                 f"{_md(', '.join(e['targets']))} · {e['turns']} turn(s)" for e in entries]
        return "\n".join(lines)

    def show_history(self, kept_token: str | None) -> str:
        """The history list when the page loads (this browser's, on a public server)."""
        public, valid = self.sessions.policy.public, self.owner_keys.valid(kept_token)
        try:
            return self.history_markdown(self._owner(kept_token) if public and valid else None)
        except STORE_ERRORS:
            log.exception("listing saved comparisons failed")
            return UNAVAILABLE

    def open_link(self, request: gr.Request = None) -> list[Any]:
        """Page load: the comparison ``?comparison=ID`` names, read-only. Outputs: the
        viewer (shown only for a link), its HTML, the opened document (``gr.State``)
        and its HTML download. A bad or unknown id shows why instead."""
        query = dict(getattr(request, "query_params", None) or {})
        if saved.QUERY_NAME not in query:
            return [gr.update(visible=False), "", None, gr.update(visible=False)]
        try:
            _, document = saved.load(self.store, query[saved.QUERY_NAME])
        except (ShareError, *STORE_ERRORS) as exc:
            if not isinstance(exc, ShareError):
                log.exception("opening a saved comparison failed")
            text = exc.message if isinstance(exc, ShareError) else UNAVAILABLE
            message = f'<p class="saved-error">{html.escape(text)}</p>'
            return [gr.update(visible=True), message, None, gr.update(visible=False)]
        note = ('<p class="small">A saved comparison, read-only. "Continue from here" copies '
                "it into a new comparison below.</p>")
        return [gr.update(visible=True), comparison_body(document, note), document,
                gr.update(value=str(write_html(document)), visible=True)]

    def html_download(self, conversation: Any, record: Any) -> dict[str, Any]:
        """The HTML download of the Compare tab's comparison (hidden while there is none),
        its label saying how many turns it holds (so a new turn shows it was renewed)."""
        document = current_document(conversation, record)
        if document is None:
            return gr.update(visible=False)
        turns = doc.turn_count(document)
        label = "Download HTML" + (f" ({turns} turns)" if turns > 1 else "")
        return gr.update(value=str(write_html(doc.for_saving(document, []))), label=label,
                         visible=True)

    def continue_from(self, document: dict[str, Any] | None) -> list[Any]:
        """Copy the opened comparison into a new one in the Compare tab (the saved one
        is not changed). Outputs: Compare's (:class:`CompareView`: panes, chats, table,
        the conversation, sync switches, follow-up row), targets, the form's system
        prompt and parameters, each pane's own settings (shown, with its saved
        overrides, for an unsynced pane), the viewer: all in one step. A document
        that does not read back as a conversation: a gr.Error toast."""
        conversation = _conversation(document)
        targets = [pane.target for pane in conversation.panes]
        return [*restored_view(conversation),
                readiness_view.targets_update(targets, self.sessions.settings),
                *_params_values(conversation.shared), *_pane_settings(conversation),
                gr.update(visible=False)]


N_PARAMS = 5  # system, max tokens, temperature, top_p, seed (the form's order)


def _pane_settings(conversation: Conversation) -> list[Any]:
    """Each pane slot's own-settings group (shown for an unsynced pane), then its
    fields (the pane's saved overrides; left as they are for synced panes)."""
    groups, fields = [], []
    for index in range(N_SLOTS):
        pane = conversation.panes[index] if index < len(conversation.panes) else None
        own = pane is not None and not pane.synced
        groups.append(gr.update(visible=own))
        fields += _params_values(pane.overrides) if own else [gr.skip()] * N_PARAMS
    return [*groups, *fields]


def _conversation(document: Any) -> Conversation:
    try:
        return Conversation.from_document(document)
    except InputError as exc:
        raise gr.Error(html.escape(" ".join(exc.problems)), title="Cannot continue",
                       print_exception=False) from None


def _params_values(params: Params) -> list[Any]:
    return [params.system or "", params.max_tokens, params.temperature, params.top_p,
            params.seed]


def restored_view(conversation: Conversation) -> list[Any]:
    """Compare's outputs showing a reopened conversation: each pane's earlier turns in
    its chat view, its last answer below, one table row per pane and turn, the
    follow-up row ready for the next turn."""
    view = CompareView.empty()
    count = len(conversation.panes)
    view.slots = [gr.update(visible=i < count) for i in range(N_SLOTS)]
    view.status, view.answers = [""] * N_SLOTS, [""] * N_SLOTS
    view.chats = [gr.update(value=[], visible=False)] * N_SLOTS
    for index, pane in enumerate(conversation.panes):
        if pane.turns:
            last = pane.turns[-1].result
            view.status[index], view.answers[index] = (render.status_line(last),
                                                       render.answer_text(last))
            view.chats[index] = gr.update(value=chat_messages(conversation, index, None),
                                          visible=True)
    results, panes = table_rows(conversation, {}, retry=False)
    view.table = render.styled_table(render.metrics_table(results), panes)
    view.record, view.conversation = None, conversation
    view.charts = [gr.update(visible=False)] * len(render.CHARTS)
    view.downloads = [gr.update(visible=False)] * 2
    view.syncs = [p.synced for p in conversation.panes] + [True] * (N_SLOTS - count)
    view.follow = gr.update(visible=True)
    return view.outputs()


def _md(text: str) -> str:
    """``text`` on one line, safe inside a Markdown link label: ``<``, ``>`` and ``&``
    as entities (no tag), brackets and emphasis marks backslashed (no link, no style)."""
    line = " ".join(str(text).split())
    line = line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + c if c in "[]()*_`\\!~|" else c for c in line)
