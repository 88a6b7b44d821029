"""Whether each target's conversation still fits its context window, checked before
anything is sent; never cut silently.

A conversation fits when its prompt tokens (system prompt, every earlier turn, the new
turn, the chat template's tokens) plus the tokens reserved for the answer
(``max_tokens``, at least 1) are within the model's context. When they are not,
:func:`check` says how many of the oldest question/answer pairs to drop so that it fits,
and :func:`drop_oldest` drops them; the UI and the CLI offer that, they never do it
unasked.

Where the window and the counts come from (:attr:`ContextFit.counted_by` says which):

* ``onnx``: the folder's ``genai_config.json`` (``context_length``) and the model's own
  tokenizer over its chat template (onnxruntime-genai's ``Tokenizer``, built from the
  folder without loading the weights); images at the phi3v processor's maximum, 2,509
  tokens each (its HD grid of at most 16 tiles, onnxruntime-genai 0.18.0).
* ``transformers``: ``config.json`` (``max_position_embeddings``) and the model's own
  tokenizer or processor, the very inputs the provider builds (exact, images included).
* every other route: the Phi catalog's context length
  (:data:`providers.catalog.PHI_MODELS`; a model outside it is not checked) and an
  estimate leaning high (:func:`estimate_tokens`), said as such. The only routes with a
  server tokenizer (:meth:`providers.base.Provider.count_tokens`, which
  :mod:`playground.token_counts` asks after a run) are OpenAI-compatible local servers,
  whose models are outside the catalog, so their window is unknown here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from playground import local_context
from providers import Target
from providers.base import ChatRequest
from providers.catalog import lookup
from providers.settings import Settings

# The estimate (routes without a tokenizer to ask): Phi-3's 32k-token vocabulary takes
# about 4 Latin characters a token and 1-3 tokens a Chinese character (byte fallback);
# the estimate takes 3 and 2, so it leans high; 6 tokens of chat template a message
# (Phi-3's <|user|>\n...<|end|>\n is 4); an image as phi3v's largest, 2,509 tokens.
ASCII_CHARS_PER_TOKEN = 3
TOKENS_PER_OTHER_CHAR = 2
TEMPLATE_TOKENS_PER_MESSAGE = 6
IMAGE_TOKENS = 2509
ESTIMATED = ("estimated (about 1 token per 3 Latin characters, 2 per other character, "
             f"{IMAGE_TOKENS:,} per image)")


@dataclass(frozen=True)
class ContextFit:
    """One target's conversation against its context window (tokens throughout).

    ``context_tokens`` is None when the window is unknown here (then it is not checked
    and :attr:`fits` is True). ``drop_pairs`` is how many of the oldest question/answer
    pairs :func:`drop_oldest` must drop so that it fits (0 when it fits as it is);
    ``fits_after_drop`` is False when even the new turn alone does not fit. ``exact``:
    counted by the model's own tokenizer (else estimated or the server's text count).
    """

    target: str
    context_tokens: int | None
    prompt_tokens: int | None
    answer_tokens: int
    counted_by: str
    exact: bool
    drop_pairs: int = 0
    fits_after_drop: bool = True

    @property
    def fits(self) -> bool:
        """Whether the conversation fits as it is (or cannot be checked)."""
        if self.context_tokens is None or self.prompt_tokens is None:
            return True
        return self.prompt_tokens + self.answer_tokens <= self.context_tokens

    def message(self) -> str | None:
        """What to tell the user when it does not fit (None when it does)."""
        if self.fits:
            return None
        head = (f"{self.target}: the conversation takes {self.prompt_tokens:,} tokens "
                f"({self.counted_by}) plus {self.answer_tokens:,} for the answer; its "
                f"context holds {self.context_tokens:,}.")
        if not self.fits_after_drop:
            return head + (" Even the new message alone does not fit: shorten it, send "
                           "fewer images or lower max tokens.")
        pairs = "pair" if self.drop_pairs == 1 else "pairs"
        return head + (f" Dropping the oldest {self.drop_pairs} question/answer {pairs} "
                       "would make it fit.")


def drop_oldest(request: ChatRequest, pairs: int) -> ChatRequest:
    """``request`` without its ``pairs`` oldest question/answer pairs (their images go
    with them); the turn numbers stay (``first_turn``). ValueError if ``pairs`` is
    negative or more than the history holds."""
    held = len(request.history) // 2
    if not 0 <= pairs <= held:
        raise ValueError(f"cannot drop {pairs} pairs from a history of {held}")
    return dataclasses.replace(request, history=request.history[2 * pairs:],
                               first_turn=request.first_turn + pairs)


def estimate_tokens(request: ChatRequest) -> int:
    """The estimate for routes with no tokenizer to ask (see the module docstring)."""
    texts = [request.system] if request.system else []
    texts += [turn.text for turn in request.turns()]
    tokens = TEMPLATE_TOKENS_PER_MESSAGE * len(texts) + IMAGE_TOKENS * len(request.all_images())
    for text in texts:
        ascii_chars = sum(1 for ch in text if ch.isascii())
        tokens += -(-ascii_chars // ASCII_CHARS_PER_TOKEN)
        tokens += TOKENS_PER_OTHER_CHAR * (len(text) - ascii_chars)
    return tokens


async def check(target: Target, request: ChatRequest, settings: Settings) -> ContextFit:
    """Whether ``request`` (the whole conversation ``target`` would receive) fits its
    context, and how many oldest pairs to drop if not. Sends nothing anywhere: local
    tokenizers run in a worker thread. Raises ProviderError when a local model cannot
    be found or read."""
    answer = max(request.max_tokens or 1, 1)
    counter = await asyncio.to_thread(local_context.counter_for, target, settings)
    if counter is not None:
        how, exact = counter.counted_by, True
        if counter.image_note and request.all_images():
            how, exact = f"{how}; {counter.image_note}", False
        return await asyncio.to_thread(_fit, str(target), request, counter.context_tokens,
                                       answer, how, exact, counter.count)
    phi = lookup(target.provider, target.model)
    if phi is None:
        return ContextFit(str(target), None, None, answer, "not checked: context unknown",
                          exact=False)
    return _fit(str(target), request, phi.context_length, answer, ESTIMATED, False,
                estimate_tokens)


async def check_all(pairs: Sequence[tuple[Target, ChatRequest]],
                    settings: Settings) -> list[ContextFit]:
    """:func:`check` for each (target, request) pair, in order."""
    return [await check(target, request, settings) for target, request in pairs]


def overflow_problems(fits: Sequence[ContextFit]) -> list[str]:
    """One message per target whose conversation does not fit."""
    return [message for fit in fits if (message := fit.message()) is not None]


def _fit(target: str, request: ChatRequest, context: int, answer: int, counted_by: str,
         exact: bool, count: local_context.Count) -> ContextFit:
    """Count the conversation, then, if it overflows, as few oldest pairs dropped as fit."""
    tokens = count(request)
    fit = ContextFit(target, context, tokens, answer, counted_by, exact)
    if fit.fits:
        return fit
    for pairs in range(1, len(request.history) // 2 + 1):
        if count(drop_oldest(request, pairs)) + answer <= context:
            return dataclasses.replace(fit, drop_pairs=pairs)
    return dataclasses.replace(fit, drop_pairs=len(request.history) // 2,
                               fits_after_drop=False)
