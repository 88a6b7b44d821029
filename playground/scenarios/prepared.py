"""A scenario's cases made into requests before a run: each question of a case (one,
or several with ``turns:``) as a request without history, with its checks; and each
group's own conversation as the run goes (:class:`Conversations`).

In a multi-turn case every group answers after **its own** earlier answers: turn N's
request to a group carries that group's questions and answers of turns 1..N-1. A group
whose answer to a turn failed (or said nothing) is not asked the later turns of that
round: its rows say why, nothing is sent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from playground.scenarios.check_specs import CheckSpec
from playground.scenarios.model import Case, Scenario
from playground.validate import InputError, check_request
from providers.base import ChatRequest, Turn
from providers.errors import ProviderError
from providers.images import load_image


@dataclass(frozen=True)
class PreparedTurn:
    """One question: its request (no history yet) and the checks on its answer."""

    request: ChatRequest
    checks: tuple[CheckSpec, ...]


@dataclass(frozen=True)
class PreparedCase:
    case: Case
    turns: tuple[PreparedTurn, ...]
    timeout_s: float

    @property
    def multi_turn(self) -> bool:
        return len(self.turns) > 1

    def label(self, turn: int) -> str:
        """The rows' case name: the case id, ``ID/N`` for turn N of a multi-turn case."""
        return f"{self.case.id}/{turn + 1}" if self.multi_turn else self.case.id


def prepare_cases(scenario: Scenario) -> list[PreparedCase]:
    """Every case's questions as requests with their images loaded; InputError lists
    every problem (per question, and for the questions of a case together)."""
    prepared, problems = [], []
    for case in scenario.cases:
        params = scenario.case_parameters(case)
        turns = []
        for number, spec in enumerate(case.user_turns()):
            where = f"case {case.id}" + (f" turn {number + 1}" if case.turns else "")
            try:
                images = tuple(load_image(scenario.base_dir / name) for name in spec.images)
            except ProviderError as exc:
                problems.append(f"{where}: {exc.message}")
                continue
            request = ChatRequest("", scenario.case_prompt(case, number), case.system, images,
                                  params.max_tokens, params.temperature, params.top_p,
                                  params.seed)
            problems += [f"{where}: {p}" for p in check_request(request)]
            turns.append(PreparedTurn(request, scenario.turn_checks(case, number)))
        if len(turns) > 1:  # the questions together, as the last turn will carry them
            problems += [f"case {case.id}: {p}" for p in check_request(whole_case(turns))]
        prepared.append(PreparedCase(case, tuple(turns), params.timeout_s))
    if problems:
        raise InputError(problems)
    return prepared


def whole_case(turns: list[PreparedTurn]) -> ChatRequest:
    """The last question after every earlier one (with empty answers): what a case
    sends at least, for the conversation's own bounds."""
    history = tuple(t for turn in turns[:-1] for t in (
        Turn("user", turn.request.prompt, turn.request.images), Turn("assistant", "")))
    return dataclasses.replace(turns[-1].request, history=history)


@dataclass
class Conversations:
    """Each group's own conversation in one round of a case, by the group's index."""

    histories: dict[int, tuple[Turn, ...]] = field(default_factory=dict)
    ended: dict[int, str] = field(default_factory=dict)  # index -> why it cannot go on

    def request(self, index: int, question: ChatRequest) -> ChatRequest:
        """``question`` after group ``index``'s own earlier turns."""
        return dataclasses.replace(question, history=self.histories.get(index, ()))

    def answered(self, index: int, sent: ChatRequest, text: str, status: str,
                 turn: int) -> None:
        """Record group ``index``'s answer to the question ``sent`` (turn is 1-based)."""
        if status != "ok" or not text:
            self.ended[index] = (f"its answer to turn {turn} was not complete ({status}), "
                                 "so the conversation could not go on")
            return
        self.histories[index] = (*sent.history, Turn("user", sent.prompt, sent.images),
                                 Turn("assistant", text))

    def stop(self, index: int, why: str) -> None:
        self.ended[index] = why
