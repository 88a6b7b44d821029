"""SLM Playground: the compare engine, metrics, CLI and UI."""
