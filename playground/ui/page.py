"""Handlers that set a comparison up: page load (share links, or the first preset that
can run), presets, the target picker, the share-link field and the per-session keys.
Lists say whether each choice can run now (``readiness_view``). Plain methods;
``layout`` wires them."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import gradio as gr

from playground.saved import QUERY_NAME as COMPARISON_QUERY
from playground.ui import picker, presets, readiness_view, render
from playground.ui.session import Sessions, session_key, setting_fields
from playground.ui.share import page_url, read_share, share_link
from playground.validate import MAX_TARGETS, InputError
from providers.settings import Settings


def targets_update(selected: list[str], settings: Settings) -> dict[str, Any]:
    """The targets dropdown showing ``selected`` among choices that say whether each
    can run now."""
    return readiness_view.targets_update(selected, settings)


class PageHandlers:
    """Setup handlers sharing the server's :class:`Sessions`."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self.fields = setting_fields(sessions.policy)

    def settings(self, keys: dict[str, str] | None) -> Settings:
        """This session's settings; the server's when the session's values are refused
        (they were checked when saved, so this is only a safety net)."""
        try:
            return self.sessions.settings_for(keys)
        except InputError:
            return self.sessions.settings

    def on_load(self, request: gr.Request = None) -> list[Any]:
        """Fill targets and prompts from a share link, or else from the first lesson
        preset that can run here; remember the page's address. Outputs: preset,
        targets, prompt, system, page address, share link.

        A saved comparison's link (``?comparison=ID``) opens no preset: the page is
        about that comparison (read-only above the form), an unrelated lesson selected
        under it would read as part of it, and "Continue from here" fills the form."""
        query = dict(getattr(request, "query_params", None) or {})
        shared = read_share(query)
        headers = dict(getattr(request, "headers", None) or {})
        base = page_url(headers.get("referer"))
        settings = self.sessions.settings  # a new page has no session keys yet
        choices = readiness_view.preset_choices(settings)
        viewing = COMPARISON_QUERY in query
        opening = None if shared.targets or viewing else \
            readiness_view.first_runnable_preset(settings)
        if opening is not None:
            shared = dataclasses.replace(shared, targets=list(opening.targets), prompt=opening.prompt,
                                     system=opening.system)
        link = share_link(base, shared.targets, shared.prompt, shared.system)
        preset = gr.update(choices=choices, value=opening.name if opening else None)
        return [preset, targets_update(shared.targets, settings),
                shared.prompt or gr.skip(), shared.system or gr.skip(), base, link]

    def readiness(self, selected: list[str] | None, keys: dict[str, str] | None) -> str:
        """Which selected targets cannot run now, and what would make each runnable."""
        return readiness_view.selected_markdown(selected, self.settings(keys))

    def refresh_lists(self, selected: list[str] | None,
                      keys: dict[str, str] | None) -> list[Any]:
        """Presets and targets re-labelled with what can run now (after a download or
        keys saved). Choices only, never the values: the user may be changing them."""
        settings = self.settings(keys)
        targets = readiness_view.target_choices(list(selected or []), settings)
        return [gr.update(choices=readiness_view.preset_choices(settings)),
                gr.update(choices=targets)]

    def share(self, base: str | None, targets: list[str] | None, prompt: str | None,
              system: str | None) -> str:
        """The share link for the current setup (targets and prompts, never keys)."""
        return share_link(base or "/", targets or [], prompt or "", system or "")

    def apply_preset(self, name: str | None,
                     keys: dict[str, str] | None = None) -> list[Any]:
        """Targets and prompts of a lesson preset (the readiness note under the targets
        says what it still needs, if anything)."""
        preset = presets.find(name or "")
        if preset is None:
            return [gr.skip(), gr.skip(), gr.skip()]
        if preset.needs_image:
            gr.Info("This comparison needs an image: attach one before pressing Compare.")
        return [targets_update(list(preset.targets), self.settings(keys)), preset.prompt,
                preset.system]

    async def pick_provider(self, provider_id: str | None, keys: dict[str, str] | None,
                            request: gr.Request = None) -> list[Any]:
        """The chosen provider's models (service list merged with the catalog)."""
        if not provider_id:
            return [gr.update(choices=[], value=None), ""]
        settings = self.sessions.settings_for(keys)
        self.sessions.remember_secrets(session_key(request), settings)
        options, note = await picker.model_options(provider_id, settings)
        first = options[0][1] if options else None
        ready = await asyncio.to_thread(readiness_view.provider_note, provider_id, settings)
        return [gr.update(choices=options, value=first), "  \n".join(filter(None, [ready, note]))]

    def add_target(self, selected: list[str] | None, provider_id: str | None,
                   model: str | None, keys: dict[str, str] | None = None) -> dict[str, Any]:
        """Append ``provider:model`` to the selected targets."""
        selected = list(selected or [])
        if not provider_id or not (model or "").strip():
            gr.Warning("Pick a provider and a model first.")
            return gr.skip()
        target = f"{provider_id}:{model.strip()}"
        if target in selected:
            return gr.skip()
        if len(selected) >= MAX_TARGETS:
            gr.Warning(f"At most {MAX_TARGETS} targets; remove one first.")
            return gr.skip()
        return targets_update([*selected, target], self.settings(keys))

    def save_keys(self, keys: dict[str, str] | None, *values: str) -> list[Any]:
        """Keep the typed keys for this session only; clear the fields so that no key
        stays in the page."""
        typed = {f.name: v.strip() for f, v in zip(self.fields, values) if v and v.strip()}
        merged = {**(keys or {}), **typed}
        try:
            self.sessions.settings_for(merged)  # refuses keys that cannot be used
        except InputError as exc:
            raise gr.Error(render.problems_html(exc.problems), title="Not saved",
                           print_exception=False) from None
        return [merged, *[""] * len(self.fields), *self._settings_view(merged)]

    def save_session_keys(self, request: gr.Request, keys: dict[str, str] | None,
                          *values: str) -> list[Any]:
        """:meth:`save_keys` for the page: the keys are redacted from logs from now
        on, until the session ends (Gradio passes ``request`` first)."""
        outputs = self.save_keys(keys, *values)
        self.sessions.remember_secrets(session_key(request),
                                       self.sessions.settings_for(outputs[0]))
        return outputs

    def clear_keys(self) -> list[Any]:
        """Forget this session's keys (the server's own settings apply again)."""
        return [{}, *[""] * len(self.fields), *self._settings_view({})]

    def settings_view(self, keys: dict[str, str] | None) -> list[Any]:
        """Session status, provider choices and the providers table."""
        return self._settings_view(keys or {})

    def _settings_view(self, keys: dict[str, str]) -> list[Any]:
        settings = self.sessions.settings_for(keys)
        names = ", ".join(f"`{name}`" for name in sorted(keys)) or "none"
        status = (f"Set for this session only: {names}. Values are kept on the server "
                  "for this tab and never shown, logged or exported.")
        return [status, gr.update(choices=readiness_view.provider_options(settings)),
                picker.providers_markdown(settings)]
