"""The Arena tab's event handlers: a battle (an async generator over throttled frames,
through the one engine), the vote, the teacher's pool and the polled leaderboard.
Plain methods; ``arena_tab`` wires them.

The battle's pair lives only in a ``gr.State`` (kept on the server): no output of a
battle names a target until the vote is written, or until the battle is recorded as
failed (then there is no vote to sway).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from typing import Any

import gradio as gr

from playground.arena.battles import CHOICES, Arena, LiveBattle, VoteRate
from playground.arena.pool import PairDrawer, class_code, configured_pool, ready_targets
from playground.arena.prompts import clean_category
from playground.engine import DEFAULT_TIMEOUT_S
from playground.limits import SlotLimiter, client_address, hold_all
from playground.policy import SessionLimiter
from playground.store import Store, StoreError, VoteRefused, default_db
from playground.ui import arena_view as view
from playground.ui import render
from playground.ui.live import LiveRun
from playground.ui.session import ARENA, Sessions, session_key
from playground.validate import InputError, check_request
from providers import Target
from providers.base import ChatRequest

log = logging.getLogger("playground.arena")
N_VOTES = len(CHOICES)
BATTLE_OUTPUTS = 2 + 2 + N_VOTES + 1 + 2 + 1  # status, answers, votes, go, reveal, state
VOTES, GO = slice(4, 4 + N_VOTES), 4 + N_VOTES  # positions in a battle frame
REVEAL = slice(GO + 1, GO + 3)
VOTE_OUTPUTS = 2 + N_VOTES + 2 + 1  # status, votes, reveal, state
BOARD_OUTPUTS = 6  # note, chart, table, win rates, CSV, what this page shows
PERIODS = {"all time": None, "last hour": timedelta(hours=1),
           "last 24 hours": timedelta(days=1), "last 7 days": timedelta(days=7)}
BATTLE_MAX_TOKENS = 512
VOTES_VAR = "PLAYGROUND_ARENA_VOTES_PER_MIN"


def _refused(problems: Sequence[str]) -> gr.Error:
    return gr.Error(render.problems_html(list(dict.fromkeys(problems))),
                    title="Nothing was sent", print_exception=False)


class ArenaHandlers:
    """Battle, vote, pool and leaderboard, sharing the server's :class:`Sessions`."""

    def __init__(self, sessions: Sessions, store: Store | None = None) -> None:
        self.sessions = sessions
        self.drawer = PairDrawer()
        self.pools: dict[str, list[Target]] = {}  # class -> the teacher's pool (this replica)
        self._store = store
        self._arena: Arena | None = None
        # Read now: a bad value stops the app at start, not a visitor's first vote.
        default = 10 if sessions.policy.public else 0
        self.votes_per_min = sessions.settings.integer(VOTES_VAR, default, minimum=0,
                                                       maximum=10_000) or None
        self._opening = threading.Lock()
        self.limiter = SessionLimiter(sessions.policy.max_runs_per_session)
        self.address_limiter = SlotLimiter(
            sessions.policy.max_runs_per_address,
            "Your address already runs {limit} comparisons at once (this server's limit "
            "per visitor); wait for one to finish.")

    def arena(self) -> Arena:
        """The arena on ``PLAYGROUND_DB`` (opened, and migrated, on first use)."""
        with self._opening:
            if self._arena is None:
                settings = self.sessions.settings
                store = self._store or Store(default_db(settings),
                                             secrets=settings.secret_values())
                self._arena = Arena(store, VoteRate(self.votes_per_min))
            return self._arena

    def _pair(self, code: str, keys: dict[str, str] | None) -> tuple[tuple[Target, Target], Any]:
        """Settings and a fresh pair among the class pool's ready targets, the pairs with
        the fewest battles of the class (every replica's) first; InputError. Counted as
        drawn until :meth:`PairDrawer.done`."""
        settings = self.sessions.settings_for(keys)
        pool = self.pools.get(code) or configured_pool(settings)
        try:
            ready = ready_targets(pool, settings)
        except InputError:
            if not self.sessions.policy.public:
                raise  # the teacher setting up sees what each target needs
            # A visitor learns nothing about the pool (its names are the blind part).
            raise InputError(["The arena cannot run now: fewer than two of its models "
                              "are ready. Tell the teacher."]) from None
        recorded = self.arena().store.pair_counts(code)  # one aggregate query
        return self.drawer.draw(ready, recorded, code), settings

    async def battle(self, class_text: str | None, category: str | None, prompt: str | None,
                     keys: dict[str, str] | None,
                     request: gr.Request = None) -> AsyncIterator[list[Any]]:
        """Draw a pair, stream both answers anonymously, record the battle; bad input
        raises gr.Error and sends nothing."""
        session = session_key(request)
        chat = ChatRequest("", prompt or "", max_tokens=BATTLE_MAX_TOKENS)
        try:
            code = class_code(self.sessions.settings, class_text)
            kind = clean_category(category)
            if problems := check_request(chat, self.sessions.policy.max_prompt_chars):
                raise InputError(problems)
            arena = await asyncio.to_thread(self.arena)  # opened (migrated) on first use
            # In a thread: readiness may probe a local server (short timeout, cached).
            pair, settings = await asyncio.to_thread(self._pair, code, keys)
            try:
                slot = self._slot(session, request)
            except InputError:
                self.drawer.done(*pair, code)  # never fought
                raise
        except InputError as exc:
            raise _refused(exc.problems) from None
        except Exception as exc:  # the database cannot be opened
            log.warning("the arena's store cannot be opened: %s", type(exc).__name__)
            why = exc.message if isinstance(exc, StoreError) else "it did not answer"
            raise _refused([f"The arena's database cannot be used: {why}"]) from None
        run: LiveRun | None = None
        try:
            self.sessions.remember_secrets(session, settings)  # keys typed in Settings
            battle = arena.new_battle(pair, chat, class_code=code, session=session,
                                      category=kind, pool=self.sessions.pool(),
                                      settings=settings, timeout_s=DEFAULT_TIMEOUT_S)
            run = LiveRun(battle.comparison)
            self.sessions.start(session, run, ARENA)
            yield self._frame(battle, first=True)
            run.start()
            async for frame in run.frames():
                if not frame.final:
                    yield self._frame(battle, changed=frame.changed)
            yield await self._recorded(battle)
        finally:
            if run is not None:
                await run.close()
                self.sessions.finish(session, run, ARENA)
            # Recorded by now (the store counts it), or never will be (page closed).
            self.drawer.done(*pair, code)
            slot.close()

    def _slot(self, session: str, request: gr.Request | None) -> ExitStack:
        """A run slot of this session and one of its address (as Compare holds)."""
        address = client_address(request, self.sessions.policy.trusted_proxies)
        return hold_all(self.limiter.slot(session), self.address_limiter.slot(address))

    def _frame(self, battle: LiveBattle, *, first: bool = False,
               changed: frozenset[int] | None = None) -> list[Any]:
        """One battle frame (:data:`BATTLE_OUTPUTS` order); only the ``changed`` panes
        are sent (None: both), the first frame also resets the buttons and the reveal."""
        panes = range(2) if changed is None else changed
        status, answers = [gr.skip()] * 2, [gr.skip()] * 2
        for i in panes:
            status[i] = view.anonymous_status(battle.results[i], view.SIDES[i])
            answers[i] = render.answer_text(battle.results[i])
        votes = [gr.update(interactive=False)] * N_VOTES if first else [gr.skip()] * N_VOTES
        reveal = ["", gr.update(value=None, visible=False)] if first else [gr.skip()] * 2
        go = gr.update(interactive=False) if first else gr.skip()
        return [*status, *answers, *votes, go, *reveal, battle if first else gr.skip()]

    async def _recorded(self, battle: LiveBattle) -> list[Any]:
        """The last frame, complete (an API client's result): recorded, then votable,
        or revealed when it failed."""
        frame = self._frame(battle)
        try:
            await asyncio.to_thread(self.arena().record, battle)
        except Exception as exc:  # the store is down: the answers stay, no vote
            log.warning("a battle could not be saved: %s", type(exc).__name__)
            gr.Warning(f"This battle could not be saved ({type(exc).__name__}); "
                       "it cannot be voted.")
            frame[GO] = gr.update(interactive=True, value="New battle")
            return frame
        frame[VOTES] = [gr.update(interactive=not battle.failed)] * N_VOTES
        frame[GO] = gr.update(interactive=True, value="New battle")
        if battle.revealed:
            frame[:2] = [view.revealed_status(r, s) for r, s in zip(battle.results, view.SIDES)]
            frame[REVEAL] = [view.reveal_markdown(battle),
                             gr.update(value=view.reveal_table(battle), visible=True)]
        frame[-1] = battle
        return frame

    async def vote(self, choice: str, battle: LiveBattle | None,
                   request: gr.Request = None) -> list[Any]:
        """Write the vote (``choice``: a button's label or a, b, tie, both_bad), then
        reveal the names, both metrics rows and the vote; refused with a message."""
        code = next((k for k, label in CHOICES.items() if choice in (k, label)), choice)
        try:
            await asyncio.to_thread(self.arena().vote, battle, session_key(request), code)
        except VoteRefused as exc:
            raise gr.Error(str(exc), title="Vote not counted", print_exception=False) from None
        except Exception as exc:  # the database did not answer: nothing is revealed
            log.warning("a vote could not be saved: %s", type(exc).__name__)
            raise gr.Error("Your vote could not be saved (the database did not answer); "
                           "try again.", title="Vote not counted",
                           print_exception=False) from None
        assert battle is not None  # vote() refused a missing battle
        status = [view.revealed_status(r, s) for r, s in zip(battle.results, view.SIDES)]
        return [*status, *[gr.update(interactive=False)] * N_VOTES,
                view.reveal_markdown(battle),
                gr.update(value=view.reveal_table(battle), visible=True), battle]

    def set_pool(self, class_text: str | None, picked: list[str] | None) -> str:
        """The teacher's pool for a class (this replica); public servers keep theirs."""
        if self.sessions.policy.public:
            raise gr.Error("On a public server the pool is the server's "
                           "PLAYGROUND_ARENA_TARGETS.", print_exception=False)
        try:
            code = class_code(self.sessions.settings, class_text)
            pool = configured_pool(self.sessions.settings, picked or [])
        except InputError as exc:
            raise _refused(exc.problems) from None
        self.pools[code] = pool
        return f"Class **{code}** battles among {len(pool)} targets (pairs drawn at random)."

    async def leaderboard(self, class_text: str | None, category: str | None,
                          period: str | None, shown: Any) -> list[Any]:
        """The class's board; every output skipped when this page already shows it."""
        try:
            code = class_code(self.sessions.settings, class_text)
            kind = clean_category(category if category != "all" else None)
        except InputError:
            return [gr.skip()] * BOARD_OUTPUTS  # the battle's own check says why
        delta = PERIODS.get(period or "all time")
        # To the minute: a moving "since" would refit the board at every poll.
        since = None if delta is None else (datetime.now(timezone.utc) - delta).replace(
            second=0, microsecond=0)
        try:
            board, counts = await asyncio.to_thread(self.arena().leaderboard, code, since,
                                                    kind)
        except Exception as exc:  # the database did not answer: the next poll retries
            log.warning("the leaderboard could not be read: %s", type(exc).__name__)
            return [gr.skip()] * BOARD_OUTPUTS
        key = (code, kind, since, id(board))
        if key == shown:
            return [gr.skip()] * BOARD_OUTPUTS
        csv_path = await asyncio.to_thread(view.write_board_csv, board, code)
        return [view.board_note(board, counts, code), view.interval_chart(board),
                view.board_table(board), view.win_rate_table(board),
                gr.update(value=str(csv_path), visible=bool(board.rows)), key]
