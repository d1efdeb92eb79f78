"""``ProcessEmbedder``: the real model in a worker process, its vectors and its lifecycle.

The worker is started, killed and orphaned for real; the vectors are compared with a
``MiniLMEmbedder`` configured the same way in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from child_processes import PATIENCE_S, orphan_worker, proc_file, running, until

from avs_api.bootstrap import QUERY_EMBEDDING_THREADS, query_embedder, query_model
from avs_api.settings import ApiSettings
from avs_shared.adapters.child_worker import RemoteError, WorkerGone
from avs_shared.adapters.embedding import MiniLMEmbedder
from avs_shared.adapters.embedding.process import ProcessEmbedder
from avs_shared.errors import ConfigurationError, Retryable
from avs_shared.ports.embedding import Embedder

TEXTS = [
    "a boy pilots a giant robot",
    "進撃の巨人",
    "Spy×Family",
    "",
    "A quiet slice-of-life story about cats. " * 40,  # past the 256-token limit
]


@pytest.fixture(scope="module")
def local(model_data_dir: Path) -> Iterator[MiniLMEmbedder]:
    """The model as the worker runs it, in this process."""
    model = MiniLMEmbedder(model_data_dir, threads=QUERY_EMBEDDING_THREADS)
    yield model
    model.close()


@pytest.fixture
async def embedder(model_data_dir: Path) -> AsyncIterator[ProcessEmbedder]:
    """A ``ProcessEmbedder`` on the session's export; its worker is gone after the test."""
    process = ProcessEmbedder(model_data_dir, threads=QUERY_EMBEDDING_THREADS)
    try:
        yield process
    finally:
        pid = process.pid
        await process.aclose()
        if pid is not None and running(pid):
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"aclose() left the worker pid {pid} running")


# ----------------------------------------------------------------------------- vectors


async def test_vectors_are_the_in_process_models(embedder: ProcessEmbedder, local: MiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert (embedder.model_name, embedder.dimension) == (local.model_name, local.dimension)
    remote = await embedder.embed(TEXTS)
    assert remote.shape == (len(TEXTS), 384) and remote.dtype == np.float32
    np.testing.assert_allclose(remote, local.embed_sync(TEXTS), atol=1e-6)
    for text in TEXTS:  # one query per call, as the API embeds them
        np.testing.assert_allclose((await embedder.embed([text]))[0], local.embed_sync([text])[0], atol=1e-6)


async def test_empty_input_and_a_bare_string_are_answered_here(embedder: ProcessEmbedder) -> None:
    assert (await embedder.embed([])).shape == (0, 384)
    with pytest.raises(TypeError, match="not a single string"):
        await embedder.embed("a boy pilots a giant robot")
    assert embedder.pid is None  # neither needed the worker


async def test_concurrent_calls_each_get_their_own_vectors(
    embedder: ProcessEmbedder, local: MiniLMEmbedder
) -> None:
    texts = [f"query number {i} about robots and cats" for i in range(24)]
    rows = await asyncio.gather(*(embedder.embed([t]) for t in texts))
    alone = np.concatenate([local.embed_sync([t]) for t in texts])
    np.testing.assert_allclose(np.concatenate(rows), alone, atol=1e-6)


def test_bad_arguments_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown embedding backend"):
        ProcessEmbedder(tmp_path, backend="tensorflow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threads"):
        ProcessEmbedder(tmp_path, threads=0)
    with pytest.raises(ValueError, match="batch_size"):
        ProcessEmbedder(tmp_path, batch_size=0)


# ----------------------------------------------------------------------------- embed_sync


async def test_embed_sync_from_a_thread_goes_through_the_loop(
    embedder: ProcessEmbedder, local: MiniLMEmbedder
) -> None:
    await embedder.warm_up()
    vectors = await asyncio.to_thread(embedder.embed_sync, TEXTS[:2])
    np.testing.assert_allclose(vectors, local.embed_sync(TEXTS[:2]), atol=1e-6)
    with pytest.raises(RuntimeError, match="never call it on the event loop"):
        embedder.embed_sync(TEXTS[:1])


def test_embed_sync_without_a_running_loop_says_what_to_do(model_data_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="await embed"):
        ProcessEmbedder(model_data_dir).embed_sync(TEXTS[:1])


def test_an_embedder_serves_one_event_loop_at_a_time(model_data_dir: Path) -> None:
    embedder = ProcessEmbedder(model_data_dir, threads=1)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(PATIENCE_S)
    try:
        asyncio.run_coroutine_threadsafe(embedder.warm_up(), loop).result(PATIENCE_S)
        with pytest.raises(ConfigurationError, match="one ProcessEmbedder per event loop"):
            asyncio.run(embedder.embed(TEXTS[:1]))
        assert embedder.embed_sync(TEXTS[:1]).shape == (1, 384)  # from this thread, through its loop
    finally:
        asyncio.run_coroutine_threadsafe(embedder.aclose(), loop).result(PATIENCE_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(PATIENCE_S)
        loop.close()


# ----------------------------------------------------------------------------- lifecycle


async def test_the_worker_starts_on_the_first_call_and_ends_on_aclose(embedder: ProcessEmbedder) -> None:
    assert embedder.pid is None  # construction does nothing
    assert await embedder.warm_up() == "onnx-int8"
    pid = embedder.pid
    assert pid is not None and running(pid)
    cmdline = proc_file(pid, "cmdline").split("\0")
    assert "avs_shared.adapters.embedding.embedding_worker" in cmdline
    assert os.getsid(pid) == pid  # a session of its own: a terminal's Ctrl-C reaches the parent only
    await embedder.aclose()
    assert embedder.pid is None and not running(pid)


async def test_a_killed_worker_fails_its_calls_retryably_and_is_replaced(
    embedder: ProcessEmbedder, local: MiniLMEmbedder
) -> None:
    await embedder.warm_up()
    first = embedder.pid
    assert first is not None
    os.kill(first, signal.SIGSTOP)  # the call below stays in flight until the kill
    try:
        call = asyncio.create_task(embedder.embed(TEXTS[:1]))
        await until(lambda: embedder.worker.pending, "the call is sent")
    finally:
        os.kill(first, signal.SIGKILL)
    with pytest.raises(WorkerGone) as caught:
        await call
    assert isinstance(caught.value, Retryable) and caught.value.retry_after_s == 1.0
    assert f"query embedding worker (pid {first}) exited" in str(caught.value)
    vectors = await embedder.embed(TEXTS[:1])  # a successor
    assert embedder.pid not in {None, first}
    np.testing.assert_allclose(vectors, local.embed_sync(TEXTS[:1]), atol=1e-6)


async def test_only_its_methods_can_be_called(embedder: ProcessEmbedder) -> None:
    with pytest.raises(RemoteError, match="query embedding worker has no method 'close'"):
        await embedder.worker.call("close")
    assert (await embedder.embed(TEXTS[:1])).shape == (1, 384)  # still serving


async def test_a_worker_whose_parent_dies_exits(model_data_dir: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from avs_shared.adapters.embedding.process import ProcessEmbedder

        async def main():
            embedder = ProcessEmbedder({str(model_data_dir)!r}, threads=1)
            await embedder.embed(["hello"])
            print(embedder.pid, flush=True)
            os._exit(0)  # no aclose(): the worker is left with its stdin's end of file

        asyncio.run(main())
        """
    )
    pid = await orphan_worker(script, tmp_path)
    try:
        await until(lambda: not running(pid), f"the orphaned worker pid {pid} exits")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ----------------------------------------------------------------------------- settings


def test_settings_choose_the_worker_process(tmp_path: Path) -> None:
    default = query_embedder(ApiSettings(data_dir=tmp_path))
    assert isinstance(default, ProcessEmbedder) and default.pid is None
    in_process = query_embedder(ApiSettings(data_dir=tmp_path, query_embedding_process=False))
    assert isinstance(in_process, MiniLMEmbedder)
    assert isinstance(query_model(ApiSettings(data_dir=tmp_path)), MiniLMEmbedder)
    in_process.close()
