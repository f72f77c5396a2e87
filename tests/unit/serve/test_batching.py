"""MicroBatcher on an event loop: concurrent requests share one model call and each gets its own
rows back in order; a lone request is not delayed; an error reaches every caller of its batch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import pytest

from kiln.serve.app import create_app
from kiln.serve.batching import MicroBatcher
from kiln.serve.settings import ServeSettings


@dataclass
class Rows:
    columns: dict[str, np.ndarray]

    @property
    def n_rows(self) -> int:
        return len(self.columns["x"])


class Doubling:
    """A served model whose answer is 2·x, counting its calls."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def predict_raw(self, decoded: Rows) -> np.ndarray:
        return self.predict_raw_columns(decoded.columns, decoded.n_rows)

    def predict_raw_columns(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        if self.fail:
            raise ValueError("the model broke")
        self.calls.append(n)
        return 2 * columns["x"]


async def _request(batcher: MicroBatcher, served: Doubling, values: list[float], delay: float = 0.0) -> np.ndarray:
    batcher.enter()
    try:
        await asyncio.sleep(delay)  # reading and checking the body
        return await batcher.predict(served, Rows({"x": np.asarray(values)}))
    finally:
        batcher.leave()


def test_concurrent_requests_share_a_call_and_get_their_own_rows() -> None:
    async def main() -> tuple[list[np.ndarray], Doubling, MicroBatcher]:
        batcher, served = MicroBatcher(window_s=0.05), Doubling()
        answers = await asyncio.gather(*(_request(batcher, served, [float(i), i + 0.5][: 1 + i % 2], delay=i * 1e-4)
                                         for i in range(20)))
        return answers, served, batcher

    answers, served, batcher = asyncio.run(main())
    for i, answer in enumerate(answers):
        np.testing.assert_array_equal(answer, 2 * np.asarray([float(i), i + 0.5][: 1 + i % 2]))
    assert sum(served.calls) == 30 and len(served.calls) < 20  # fewer calls than requests
    assert batcher.batched_requests == 20


def test_a_lone_request_is_predicted_without_waiting_for_the_window() -> None:
    async def main() -> float:
        batcher, served = MicroBatcher(window_s=5.0), Doubling()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await _request(batcher, served, [1.0])
        return loop.time() - started

    assert asyncio.run(main()) < 1.0  # far below the 5 s window


def test_the_window_bounds_the_wait_for_a_slow_body() -> None:
    async def main() -> list[int]:
        batcher, served = MicroBatcher(window_s=0.01), Doubling()
        fast = asyncio.create_task(_request(batcher, served, [1.0]))
        slow = asyncio.create_task(_request(batcher, served, [2.0], delay=0.5))  # still reading its body
        np.testing.assert_array_equal(await fast, [2.0])
        assert not slow.done()  # the fast one did not wait for it
        np.testing.assert_array_equal(await slow, [4.0])
        return served.calls

    assert asyncio.run(main()) == [1, 1]


def test_an_error_reaches_every_caller_of_the_batch() -> None:
    async def main() -> list[object]:
        batcher, served = MicroBatcher(window_s=0.05), Doubling(fail=True)
        return await asyncio.gather(*(_request(batcher, served, [float(i)]) for i in range(4)),
                                    return_exceptions=True)

    assert all(isinstance(result, ValueError) for result in asyncio.run(main()))


@pytest.mark.parametrize(("batching", "has_batcher"), [(True, True), (False, False)])
def test_no_batching_turns_it_off(batching: bool, has_batcher: bool) -> None:
    app = create_app(ServeSettings(model="model", batching=batching, batch_window_ms=0.5))
    assert (app.state.batcher is not None) == has_batcher
    if has_batcher:
        assert app.state.batcher.window_s == pytest.approx(0.0005)
