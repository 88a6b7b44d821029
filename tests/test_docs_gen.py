"""The documents generated from the provider registry are the ones committed, and the
registry agrees with the provider classes and the error messages."""

from __future__ import annotations

import providers
from playground import docs_gen
from providers.errors import retired_message
from providers.registry import MODULES, SPECS, working_routes


def test_env_example_is_generated_from_the_registry() -> None:
    # Fails when a provider's or the server's variables change without
    # `python -m playground.docs_gen` (or when .env.example is edited by hand).
    assert docs_gen.ENV_EXAMPLE.read_text(encoding="utf-8") == docs_gen.env_example()


def test_readme_provider_table_is_generated_from_the_registry() -> None:
    readme = docs_gen.README.read_text(encoding="utf-8")
    assert docs_gen.readme_with_table(readme) == readme
    assert docs_gen.stale() == []


def test_every_variable_appears_once_in_env_example() -> None:
    lines = docs_gen.env_example().splitlines()
    names = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert len(names) == len(set(names))
    assert {v.name for spec in SPECS.values() for v in spec.env} <= set(names)


def test_the_check_reports_a_drifted_file(tmp_path, monkeypatch) -> None:
    drifted = tmp_path / ".env.example"
    drifted.write_text(docs_gen.env_example().replace("OLLAMA_HOST", "OLLAMA_HOSTS"))
    monkeypatch.setattr(docs_gen, "ENV_EXAMPLE", drifted)
    assert docs_gen.stale() == [drifted]
    assert docs_gen.main(["--check"]) == 1


def test_provider_classes_take_their_declarations_from_the_registry() -> None:
    for provider_id, spec in SPECS.items():
        cls = providers.PROVIDERS[provider_id]
        assert (cls.id, cls.title, cls.env, cls.local, cls.status_note) == (
            spec.id, spec.title, spec.env, spec.local, spec.status_note)
        assert cls.__module__ == MODULES[provider_id] and cls.__name__ == spec.class_name


def test_working_routes_name_every_working_provider_and_no_retired_one() -> None:
    routes = working_routes()
    for spec in SPECS.values():
        assert (f"{spec.id}:" in routes) == spec.working
    assert "github:" not in routes and routes in retired_message()
