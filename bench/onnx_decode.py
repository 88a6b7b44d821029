"""Benchmark: the ``onnx`` provider's decode speed against a bare onnxruntime-genai loop,
and how freely the event loop runs meanwhile.

On the bigger random Phi-3 (``build/bench-model``, 8 layers, hidden 512, int4; built by
``tests/fixtures/make_tiny_models.py --big``), in one run:

* provider: ``OnnxGenAIProvider.stream`` consumed in an event loop (the model generates in
  its worker process, tokens come back in batches over a pipe), each TextDelta stamped on
  arrival like the engine's Recorder does: (tokens - 1) / (last delta - first delta), as
  ``decode_tokens_per_s`` is defined (the engine itself only stamps deltas with text, and
  this random model emits some empty ones);
* bare: the same prompt and options in a plain loop in this process (generate_next_token,
  get_next_tokens, stream decode), (tokens - 1) / (last token - first token).

Both greedy, exactly N new tokens (``min_length`` = ``max_length``, set in the worker by
the ``bench.onnx_worker_hooks.exact_length`` hook: the random model would otherwise stop
at a random <|end|>), in rotating order over many repeats after a warm-up, a short pause
before each run (``PAUSE_S``), with a second bare run per repeat as an A/A control that
shows the machine's own noise. Prints the median ratio provider / bare (goal >= 0.97),
the control's, and how late a 1 ms ``asyncio.sleep`` of another task wakes up while the
provider generates, next to the same while the bare loop runs in a thread of this
process (how the provider generated before it had worker processes; why that starves
the event loop: providers/local/onnx_worker.py).

``--model DIR`` runs the same on any other folder (e.g. a bigger random model, to see
the overhead per token shrink as tokens get slower).

Usage: python -m bench.onnx_decode [--tokens 200] [--repeats 21] [--pause 0.2] [--model DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import onnxruntime_genai as og  # noqa: E402

import providers  # noqa: E402
from bench import onnx_worker_hooks  # noqa: E402
from bench.support import REPO, percentile  # noqa: E402
from providers.base import ChatRequest, Provider, TextDelta  # noqa: E402
from providers.local import onnx_model, onnx_process  # noqa: E402
from providers.settings import Settings  # noqa: E402

DEFAULT_MODEL = REPO / "build" / "bench-model"
MODEL = DEFAULT_MODEL
PROMPT = "Tell me a story."
T = TypeVar("T")
# Between runs: ONNX Runtime's pool threads spin-wait a while after their work, so a run
# right after one in the other process shares the two cores with them (measured: the
# provider 0.93 of bare without the pause, 1.00 with it; bare after bare, same threads,
# is not affected).
PAUSE_S = 0.2


def bare_rate(lm: onnx_model.LoadedModel, tokens: int) -> float:
    """Tokens/s of a plain streaming loop over the already loaded model."""
    ids = lm.tokenizer.encode(lm.tokenizer.apply_chat_template(
        json.dumps([{"role": "user", "content": PROMPT}]), add_generation_prompt=True))
    params = og.GeneratorParams(lm.model)
    params.set_search_options(do_sample=False, max_length=len(ids) + tokens,
                              min_length=len(ids) + tokens)
    generator = og.Generator(lm.model, params)
    generator.append_tokens(ids)
    stream, stamps = lm.tokenizer.create_stream(), []
    while not generator.is_done():
        generator.generate_next_token()
        stream.decode(int(generator.get_next_tokens()[0]))
        stamps.append(time.perf_counter())
    assert len(stamps) == tokens, len(stamps)
    return (tokens - 1) / (stamps[-1] - stamps[0])


async def watch_loop(work: Awaitable[T]) -> tuple[T, list[float]]:
    """Await ``work`` while another task sleeps 1 ms at a time; returns its result and
    how much longer than 1 ms each of those sleeps took (ms)."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append((now - last) * 1000 - 1.0)
            last = now
    tick = asyncio.create_task(ticker())
    try:
        return await work, gaps
    finally:
        done.set()
        await tick


async def provider_rate(provider: Provider, tokens: int) -> float:
    """Tokens/s of one provider stream (each TextDelta is one id, stamped on arrival in
    the event loop, as the engine does)."""
    request = ChatRequest(str(MODEL), PROMPT, max_tokens=tokens, temperature=0)
    stamps = [time.perf_counter() async for event in provider.stream(request)
              if isinstance(event, TextDelta)]
    assert len(stamps) == tokens, len(stamps)
    return (tokens - 1) / (stamps[-1] - stamps[0])


def describe(gaps: list[float]) -> str:
    return (f"p50 {percentile(gaps, 0.5):.2f} ms, p95 {percentile(gaps, 0.95):.2f} ms, "
            f"max {max(gaps):.2f} ms")


async def main(tokens: int, repeats: int) -> int:
    if not (MODEL / "genai_config.json").is_file():
        print(f"No benchmark model in {MODEL}. Build it (needs the builder venv, see "
              "tests/fixtures/requirements-build.txt):\n"
              "  python tests/fixtures/make_tiny_models.py --big", file=sys.stderr)
        return 1
    hooked = onnx_worker_hooks.command(onnx_process.WORKER_MODULE,
                                       "bench.onnx_worker_hooks:exact_length")
    onnx_process.worker_command = lambda: hooked
    provider = providers.create("onnx", Settings({}))
    await provider.prepare(str(MODEL))
    lm = onnx_model.load_model(MODEL)  # the bare loop's own copy, in this process
    bare_rate(lm, tokens)  # warm-up, both paths
    await provider_rate(provider, tokens)
    ratios, controls, bares, provs = [], [], [], []
    for i in range(repeats):
        # Rotate the order; a second bare run is the A/A control (this machine's noise).
        runs: dict[str, float] = {}
        order = ("bare", "provider", "control")
        for name in order[i % 3:] + order[:i % 3]:
            await asyncio.sleep(PAUSE_S)
            runs[name] = (await provider_rate(provider, tokens) if name == "provider"
                          else bare_rate(lm, tokens))
        ratios.append(runs["provider"] / runs["bare"])
        controls.append(runs["control"] / runs["bare"])
        bares.append(runs["bare"])
        provs.append(runs["provider"])
        print(f"repeat {i + 1:2d}: bare {runs['bare']:6.1f}  provider {runs['provider']:6.1f}  "
              f"control {runs['control']:6.1f} tok/s  ratio {ratios[-1]:.3f}")
    gaps: list[float] = []
    in_thread: list[float] = []
    for _ in range(3):
        gaps += (await watch_loop(provider_rate(provider, tokens)))[1]
        in_thread += (await watch_loop(asyncio.to_thread(bare_rate, lm, tokens)))[1]
    print(f"\n{tokens} tokens x {repeats} rotated repeats, greedy, {MODEL.name} "
          f"({1000 / statistics.median(bares):.2f} ms/token bare)")
    print(f"provider / bare decode tokens/s: median {statistics.median(ratios):.3f} "
          f"(p25 {percentile(ratios, 0.25):.3f}, p75 {percentile(ratios, 0.75):.3f}); "
          "goal >= 0.97")
    print(f"control (bare / bare, the machine's noise): median {statistics.median(controls):.3f} "
          f"(p25 {percentile(controls, 0.25):.3f}, p75 {percentile(controls, 0.75):.3f})")
    print(f"event loop while the provider generates: a 1 ms sleep overran by {describe(gaps)}")
    print(f"  the same loop in a thread of this process (the provider before worker "
          f"processes): {describe(in_thread)}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--pause", type=float, default=PAUSE_S,
                        help=f"seconds between runs (default {PAUSE_S})")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="another onnxruntime-genai folder (default build/bench-model)")
    args = parser.parse_args()
    MODEL = args.model.resolve()
    PAUSE_S = args.pause
    sys.exit(asyncio.run(main(args.tokens, args.repeats)))
