"""Readiness in the page, before anything is sent: lesson presets, the Targets list, the
provider picker and the selected targets each say whether they can run now, and a
Compare whose targets cannot run is refused with one message.

Every answer comes from :mod:`providers.readiness` (synchronous, never raises; a local
server's probe is cached for a few seconds, so refreshing these lists is cheap).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import gradio as gr

import providers
from playground import local_models
from playground.ui import preload_view, presets
from providers.catalog import PHI_MODELS
from providers.readiness import (
    NEEDS_KEY,
    NOT_DOWNLOADED,
    REFUSAL_HEAD,
    RETIRED,
    SERVER_DOWN,
    Readiness,
    provider_readiness,
    refusal_lines,
    target_readiness,
)
from providers.settings import Settings

SETTINGS_TAB = ", or in the Settings tab for this browser tab only"


def short_state(item: Readiness) -> str:
    """A few words for a list label: ``ready``, ``needs NVIDIA_API_KEY``, ``not
    downloaded``, ``server not running``, ``retired 2026-07-30``."""
    if item.ready:
        return "ready"
    if item.state == NEEDS_KEY:
        return item.message
    if item.state == NOT_DOWNLOADED:
        return "not downloaded"
    if item.state == SERVER_DOWN:
        return "server not running"
    if item.state == RETIRED:
        return "retired 2026-07-30"
    return item.state.replace("_", " ")


def mark(item: Readiness) -> str:
    """``✓ ready`` or ``✗ <short state>``."""
    return f"{'✓' if item.ready else '✗'} {short_state(item)}"


def describe(item: Readiness) -> str:
    """``item.describe()`` for the web page: keys can also be typed in the Settings
    tab."""
    text = item.describe()
    return text + SETTINGS_TAB if item.state == NEEDS_KEY else text


# --- lesson presets ----------------------------------------------------------------

def preset_state(preset: presets.Preset, settings: Settings) -> list[Readiness]:
    return [target_readiness(t, settings) for t in preset.targets]


def preset_choices(settings: Settings) -> list[tuple[str, str]]:
    """(label, name) of every preset, those that can run first, each label saying
    whether it can run now and, if not, the first reason."""
    ready, rest = [], []
    for preset in presets.presets():
        items = preset_state(preset, settings)
        blocked = [i for i in items if not i.ready]
        if blocked:
            reasons = list(dict.fromkeys(short_state(i) for i in blocked))
            rest.append((f"{preset.name} — ✗ {', '.join(reasons)}", preset.name))
        else:
            ready.append((f"{preset.name} — ✓ ready", preset.name))
    return ready + rest


def first_runnable_preset(settings: Settings) -> presets.Preset | None:
    """The first preset (in list order) whose targets can all run now, if any."""
    for preset in presets.presets():
        if all(i.ready for i in preset_state(preset, settings)):
            return preset
    return None


# --- targets -----------------------------------------------------------------------

def known_targets(settings: Settings) -> list[str]:
    """Every catalog model on every route except retired GitHub Models, then every
    other local ONNX model folder that is present (``onnx:NAME``)."""
    catalog = [f"{route}:{model_id}" for m in PHI_MODELS
               for route, model_id in m.routes.items() if route != "github"]
    present = [f"onnx:{row['name']}" for row in local_models.local_models(settings)
               if row["present"]]
    return list(dict.fromkeys([*catalog, *present]))


def target_label(target: str, settings: Settings) -> str:
    return f"{target} · {mark(target_readiness(target, settings))}"


def target_choices(selected: Sequence[str], settings: Settings) -> list[tuple[str, str]]:
    """(label, target) for the Targets list: every known target, then selected ones
    typed by hand; each label says whether it can run now. The order stays the
    catalog's whatever can run (a list that reorders itself under the user's pointer
    after a download would be hard to use); presets list the runnable ones first."""
    targets = list(dict.fromkeys([*known_targets(settings), *selected]))
    return [(target_label(t, settings), t) for t in targets]


def targets_update(selected: Sequence[str], settings: Settings) -> dict[str, Any]:
    """The Targets dropdown showing ``selected`` among labelled choices."""
    return gr.update(choices=target_choices(list(selected), settings), value=list(selected))


def selected_markdown(selected: Sequence[str] | None, settings: Settings) -> str:
    """One line per selected target that cannot run, with what would make it runnable;
    a short "all can run" line otherwise."""
    items = [target_readiness(t, settings) for t in dict.fromkeys(selected or [])]
    if not items:
        return ""
    blocked = [i for i in items if not i.ready]
    if not blocked:
        return (f"✓ All {len(items)} targets can run now." if len(items) > 1
                else "✓ This target can run now.")
    lines = [f"✗ **{html.escape(i.target)}**: {html.escape(describe(i))}" for i in blocked]
    return "Cannot run yet (Compare will send nothing):  \n" + "  \n".join(lines)


def refusal_html(items: Iterable[Readiness]) -> str:
    """One message (as HTML, for a toast) naming each target that cannot run and what
    would make it runnable, each line once; "" when every item is ready."""
    lines = refusal_lines(items, describe)
    if not lines:
        return ""
    return "<br>".join(html.escape(line) for line in [REFUSAL_HEAD, *lines])


def compare_refusal(specs: Sequence[str] | None, settings: Settings) -> str:
    """HTML refusal for a Compare whose targets cannot all run now, or ""."""
    items = [target_readiness(s, settings) for s in dict.fromkeys(specs or [])]
    return refusal_html(items)


# --- providers ---------------------------------------------------------------------

def provider_options(settings: Settings) -> list[tuple[str, str]]:
    """(label, provider id) for the picker, each saying whether it can run now."""
    options = []
    for provider_id, cls in providers.PROVIDERS.items():
        item = provider_readiness(provider_id, settings)
        options.append((f"{cls.title} ({provider_id}) — {mark(item)}", provider_id))
    options.sort(key=lambda o: o[1] == "github")  # the retired route last
    return options


def provider_note(provider_id: str, settings: Settings) -> str:
    """The provider's readiness as a sentence with its fix (for the picker's note)."""
    item = provider_readiness(provider_id, settings)
    if item.ready:
        return f"✓ {html.escape(item.message)}"
    return f"✗ {html.escape(describe(item))}"


def no_key_set(settings: Settings) -> bool:
    """Whether no API key is set, on the server or for this session (GitHub Models'
    token does not count: that route is retired)."""
    return not any(settings.get(var.name) for provider_id, cls in providers.PROVIDERS.items()
                   if provider_id != "github" for var in cls.env if var.secret)


def wire(page: Any, form: dict[str, Any], keys: Any, keyless_ui: dict[str, Any],
         preload_ui: dict[str, Any], after: Sequence[Any]) -> None:
    """Keep readiness current on the page: the note under the targets follows the
    selection; presets, targets and the keyless panel are re-labelled after each event
    in ``after`` (downloads, keys saved or forgotten) and when the server's preload of
    models ends (``preload_ui``, from :func:`preload_view.build`).

    Not on the Compare tab's ``select``: Gradio fires it at page load too, and its
    refresh raced the load's own filling of the form. ``page`` is the
    :class:`~playground.ui.page.PageHandlers`; ``form`` the Compare form's components
    (``preset``, ``targets``, ``readiness``)."""
    panel = keyless_ui["panel"]
    panel_view = [keyless_ui["box"], keyless_ui["models"], keyless_ui["servers"]]
    note = (page.readiness, [form["targets"], keys], form["readiness"])

    def refresh_all(selected: list[str] | None, session_keys: dict[str, str] | None
                    ) -> list[Any]:
        return [*page.refresh_lists(selected, session_keys),
                page.readiness(selected, session_keys), *panel.view(session_keys)]
    preload_view.wire(preload_ui, [form["targets"], keys],
                      [form["preset"], form["targets"], form["readiness"], *panel_view],
                      refresh_all)
    form["targets"].change(*note, trigger_mode="always_last", show_progress="hidden",
                           api_visibility="private")
    for event in after:
        (event.then(page.refresh_lists, [form["targets"], keys],
                    [form["preset"], form["targets"]], show_progress="hidden",
                    api_visibility="private")
         .then(*note, show_progress="hidden", api_visibility="private")
         .then(panel.view, keys, panel_view, show_progress="hidden",
               api_visibility="private"))
