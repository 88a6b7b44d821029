"""What a provider declares about itself, readable without importing its SDK.

Each provider module starts with one ``SPEC = ProviderSpec(...)``: its id, title, the
class that implements it and the variables it reads. :mod:`providers.registry` collects
them; the class takes ``title``, ``env``, ``local`` and ``status_note`` from its module's
``SPEC`` (:meth:`providers.base.Provider.__init_subclass__`), so the two cannot disagree.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvVar:
    """One variable a provider reads (``default`` applies when it is unset or empty)."""

    name: str
    help: str
    default: str | None = None
    secret: bool = False
    required: bool = False


@dataclass(frozen=True)
class ProviderSpec:
    """What is known about a provider before it is used.

    ``class_name`` names its :class:`~providers.base.Provider` in the same module;
    ``service``, ``sdk`` and ``needs`` are the README table's columns; ``working``
    routes are the ones a retired route's message points to (``route_hint`` names them);
    a ``retired`` one reads as retired whatever its settings.
    """

    id: str
    title: str
    class_name: str
    env: tuple[EnvVar, ...] = ()
    local: bool = False
    status_note: str = ""
    working: bool = True
    retired: bool = False
    route_hint: str = ""
    service: str = ""
    sdk: str = ""
    needs: str = ""
