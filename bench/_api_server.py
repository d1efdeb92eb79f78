"""The API benchmark's server process: the real app on uvicorn (httptools, uvloop), on loopback.

    python -m bench._api_server --port P --data-dir D --redis-url URL --aws-endpoint URL \\
        --index edge|edge-process|local [--embedder process|thread] [--n N --embedded E --seed S]

``edge`` opens the Qdrant Edge collection at ``<data-dir>/qdrant-edge/anime`` (put there
by the benchmark); ``local`` builds qdrant-client's local mode in this process from the
same deterministic corpus (:mod:`bench._api_corpus`) before serving. The app is
``avs_api.app.create_app`` with the API's own embedder (``avs_api.bootstrap.query_embedder``:
MiniLM, one onnxruntime thread per run, in a worker process or with ``--embedder thread``
in this one; ONNX export shared from ``<AVS_DATA_DIR>/models``)
and per-client rate limiting off: one load generator is one
client, and the limiter would answer 429s, not measure the API. The benchmark polls
``/health`` until the server answers and stops it with SIGTERM. ``--profile FILE``
writes a cProfile of the event loop's thread (``pstats`` format) when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import signal
import sys
from pathlib import Path

import uvicorn

from avs_api.app import create_app
from avs_api.bootstrap import query_embedder, query_model
from avs_api.settings import ApiSettings
from avs_shared.adapters.embedding.process import ProcessEmbedder
from avs_shared.adapters.vector.edge import EdgeVectorIndex
from avs_shared.adapters.vector.edge_process import EdgeProcessIndex
from avs_shared.adapters.vector.qdrant_server import QdrantServerVectorIndex
from avs_shared.ports.vector import VectorIndex
from avs_shared.runtime.logging import configure_logging
from bench._api_corpus import CorpusSpec, load_into, model_root, real_vectors


def _loop_and_http() -> tuple[str, str]:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    return loop, http


async def _serve(args: argparse.Namespace) -> None:
    settings = ApiSettings(
        service_name="avs-bench-api",
        data_dir=Path(args.data_dir),
        redis_url=args.redis_url,
        aws_endpoint_url=args.aws_endpoint,
        rate_limit_enabled=False,
        log_level="WARNING",
        log_format="console",
    )
    configure_logging(settings)
    # The API's own embedder (as `python -m avs_api` builds it), on the shared ONNX export:
    # in a worker process (the default) or on a thread of this one.
    embedder = query_embedder(
        settings.model_copy(
            update={"data_dir": model_root(), "query_embedding_process": args.embedder == "process"}
        )
    )
    if isinstance(embedder, ProcessEmbedder):
        await embedder.warm_up()
    else:
        embedder.warm_up()
    index: VectorIndex
    if args.index == "edge":
        index = EdgeVectorIndex(Path(args.data_dir) / "qdrant-edge" / "anime")
    elif args.index == "edge-process":
        index = EdgeProcessIndex(Path(args.data_dir) / "qdrant-edge" / "anime")
    else:
        from qdrant_client import AsyncQdrantClient

        index = QdrantServerVectorIndex(AsyncQdrantClient(location=":memory:"), owns_client=True)
        spec = CorpusSpec(args.n, args.embedded, args.seed)
        model = query_model(settings.model_copy(update={"data_dir": model_root()}))
        real = await asyncio.to_thread(real_vectors, spec, model, progress=False)
        await load_into(index, spec, real, embedder.model_name, label="qdrant-client local mode")
    loop, http = _loop_and_http()
    config = uvicorn.Config(
        create_app(settings, index=index, embedder=embedder),
        host="127.0.0.1",
        port=args.port,
        loop="none",  # this coroutine's loop (uvloop when installed, see main)
        http=http,
        lifespan="on",
        access_log=False,
        log_config=None,
        backlog=512,
        # Local mode blocks the loop for seconds per request: keep idle connections open
        # longer than that, as a load balancer would.
        timeout_keep_alive=300,
    )
    print(f"serving on 127.0.0.1:{args.port} (uvicorn, http={http}, loop={loop})", flush=True)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await index.close()
        if isinstance(embedder, ProcessEmbedder):
            await embedder.aclose()
        else:
            embedder.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._api_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--aws-endpoint", required=True)
    parser.add_argument("--index", choices=["edge", "edge-process", "local"], required=True)
    parser.add_argument("--embedder", choices=["process", "thread"], default="process")
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--embedded", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", metavar="FILE", help="cProfile the event loop's thread into FILE")
    args = parser.parse_args()
    loop, _ = _loop_and_http()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        # uvicorn re-raises the SIGTERM it handled once it has shut down: exit cleanly on it
        # (the default action would kill the process before the profile is written).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        profiler.enable()
    try:
        if loop == "uvloop":
            import uvloop

            uvloop.run(_serve(args))
        else:
            asyncio.run(_serve(args))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
