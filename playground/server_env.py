"""The web app's and CLI's own variables (each provider's are in its module's ``SPEC``,
collected by :mod:`providers.registry`).

Every one is read through :class:`providers.settings.Settings` (environment, ``.env``,
session); declared here so ``.env.example`` is generated from the same list
(``python -m playground.docs_gen``).
"""

from __future__ import annotations

from providers.registry import EnvVar

# (section title, variables), in .env.example order.
SERVER_SECTIONS: tuple[tuple[str, tuple[EnvVar, ...]], ...] = (
    ("Local model preload", (
        EnvVar("PLAYGROUND_PRELOAD_MODELS",
               "models the app downloads in the background when it starts (names from "
               "`python -m playground models list`, comma-separated; progress in the log and "
               "on the page). A Space owner's way to give every visitor a keyless demo, e.g. "
               "phi-3-mini-4k,phi-3.5-mini"),
    )),
    ("Classroom arena", (
        EnvVar("PLAYGROUND_ARENA_TARGETS",
               "the arena's pool on a server: 2 to 12 PROVIDER:MODEL, comma-separated (the "
               "teacher's pick in the Arena tab wins, except on a public server); never "
               "shown before a vote"),
        EnvVar("PLAYGROUND_ARENA_NAME",
               "the class code pre-filled in the Arena tab (letters, digits, _ . -; up to "
               "40); each class has its own battles and leaderboard", default="class"),
        EnvVar("PLAYGROUND_ARENA_PROMPTS",
               "a text file of the teacher's prompts, one 'category | prompt' per line "
               "(default: the lesson's prompts)"),
        EnvVar("PLAYGROUND_ARENA_VOTES_PER_MIN",
               "votes one browser session may cast per minute (default 10 on a public "
               "server, else no cap; 0 = no cap)"),
    )),
    ("Web app and server policy", (
        EnvVar("GRADIO_SERVER_NAME", "where `python app.py` listens", default="127.0.0.1"),
        EnvVar("GRADIO_SERVER_PORT", "its port", default="7860"),
        EnvVar("PLAYGROUND_CONCURRENCY",
               "comparisons the server runs at once (all visitors together)", default="24"),
        EnvVar("PLAYGROUND_QUEUE_SIZE", "events allowed to wait", default="100"),
        EnvVar("PLAYGROUND_LOG_LEVEL",
               "log level of the app (keys are redacted at every level; model preload "
               "progress is logged unless the level is ERROR or CRITICAL)", default="WARNING"),
        EnvVar("PLAYGROUND_PUBLIC",
               "1 on a public server (automatic on a Hugging Face Space): endpoints cannot be "
               "set from the browser, keys are per session only, per-session limits apply"),
        EnvVar("PLAYGROUND_SHARE_SERVER_KEYS",
               "0 to withhold this server's own keys from visitors (they bring their own)",
               default="1"),
        EnvVar("PLAYGROUND_MAX_PROMPT_CHARS", "longest prompt accepted, in characters",
               default="100000"),
        EnvVar("PLAYGROUND_MAX_RUNS_PER_SESSION",
               "comparisons one browser session may run at once (default 4; 2 on a public "
               "server)"),
        EnvVar("PLAYGROUND_MAX_TARGET_S",
               "longest one target may run in all, in seconds", default="300"),
        EnvVar("PLAYGROUND_DB", "the store (scenario runs, saved comparisons, arena votes): a "
               "SQLite file path or a postgresql://USER:PASSWORD@HOST/DB URL",
               default="./playground.db"),
        EnvVar("PLAYGROUND_SESSION_CAPACITY",
               "browser sessions whose state the server keeps (about 1 MB each, for an hour "
               "after close)", default="1000"),
    )),
)
