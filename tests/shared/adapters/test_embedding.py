"""The ``Embedder`` port: one contract suite over every adapter, then MiniLM's own behaviour.

The real model runs from one ONNX export shared by the whole session (``model_data_dir``,
in ``tests/conftest.py``);
tests that must export again (corruption) work on a copy of it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pytest
import structlog
from numpy.typing import NDArray

from avs_shared.adapters.embedding import Backend, HashingEmbedder, MiniLMEmbedder
from avs_shared.adapters.embedding.onnx_cache import FP32_FILE, INT8_FILE, MANIFEST_FILE, read_manifest
from avs_shared.ports.embedding import Embedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MECHA = (
    "Neon Genesis Evangelion. Fifteen years after a global cataclysm, a withdrawn boy is summoned by "
    "his estranged father to pilot a giant bio-mechanical robot and fight monstrous beings that attack "
    "the fortified city of Tokyo-3."
)
COOKING = (
    "Shokugeki no Soma. A teenage cook who learned in his father's small diner enters an elite culinary "
    "academy, where students settle every dispute with high-stakes cooking duels judged on taste."
)
QUERY = "a boy pilots a giant robot"

# Varied, real-looking sentences: English, Japanese, other languages, titles with punctuation.
SENTENCES = [
    QUERY,
    MECHA,
    COOKING,
    "進撃の巨人は、諫山創による日本の漫画作品。",
    "東京の高校生が異世界に転生して勇者になる物語",
    "魔法少女まどか☆マギカ",
    "鬼滅の刃 無限列車編",
    "Spy×Family",
    "Re:Zero − Starting Life in Another World",
    "Fullmetal Alchemist: Brotherhood",
    "Un garçon pilote un robot géant.",
    "Season 2 Episode 13: The Final Battle",
    "A detective who has been turned into a child keeps solving murders in secret.",
    "In the year 2071, bounty hunters travel the solar system aboard the spaceship Bebop. " * 4,
]
# Lengths from nothing to past the 256-token limit, in no particular order.
MIXED_LENGTHS = [
    "robot " * 300,
    "",
    COOKING,
    "x",
    "進撃の巨人",
    MECHA * 2,
    "idols",
    "!!!",
    "A quiet slice-of-life story about cats.",
    QUERY,
    "魔法少女 " * 80,
]


def cosines(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """Row-wise cosine of two matrices of unit rows."""
    return np.asarray(np.sum(a * b, axis=1), dtype=np.float32)


def file_state(directory: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, inode) of each cached file: an export rewrites both."""
    return {
        name: ((directory / name).stat().st_mtime_ns, (directory / name).stat().st_ino)
        for name in (FP32_FILE, INT8_FILE, MANIFEST_FILE)
    }


# Small batches so that the mixed-length inputs span several sorted batches.
KINDS = [
    "hashing",
    pytest.param("onnx-int8", marks=pytest.mark.slow),
    pytest.param("onnx", marks=pytest.mark.slow),
    pytest.param("torch", marks=pytest.mark.slow),
]


@pytest.fixture(params=KINDS)
def embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    kind: Backend | Literal["hashing"] = request.param
    if kind == "hashing":
        yield HashingEmbedder()
        return
    data_dir: Path = request.getfixturevalue("model_data_dir")
    minilm = MiniLMEmbedder(data_dir, backend=kind, batch_size=3)
    assert minilm.warm_up() == kind
    yield minilm
    minilm.close()


# ----------------------------------------------------------------------------- contract


def test_adapters_satisfy_the_port(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dimension == 384


def test_vectors_have_the_declared_shape_and_dtype(embedder: Embedder) -> None:
    vectors = embedder.embed_sync(MIXED_LENGTHS)
    assert vectors.shape == (len(MIXED_LENGTHS), embedder.dimension)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))


def test_vectors_are_unit_length(embedder: Embedder) -> None:
    norms = np.linalg.norm(embedder.embed_sync(MIXED_LENGTHS), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_same_input_gives_the_same_vectors(embedder: Embedder) -> None:
    first = embedder.embed_sync(SENTENCES)
    second = embedder.embed_sync(list(SENTENCES))
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_rows_follow_input_order_across_sorted_batches(embedder: Embedder) -> None:
    together = embedder.embed_sync(MIXED_LENGTHS)
    alone = np.concatenate([embedder.embed_sync([text]) for text in MIXED_LENGTHS])
    # Each row is its own text's vector, not a neighbour's. int8 activations are
    # quantised per batch, so its rows move a little with their batch-mates.
    similarity = together @ alone.T
    distinct = [i for i, t in enumerate(MIXED_LENGTHS) if MIXED_LENGTHS.index(t) == i]
    assert list(np.argmax(similarity[distinct][:, distinct], axis=1)) == list(range(len(distinct)))
    floor = 0.95 if getattr(embedder, "backend", None) == "onnx-int8" else 0.9999
    assert cosines(together, alone).min() > floor


def test_empty_input_gives_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.embed_sync([]).shape == (0, embedder.dimension)


def test_a_bare_string_is_rejected(embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="not a single string"):
        embedder.embed_sync("a boy pilots a giant robot")


async def test_async_embed_matches_embed_sync(embedder: Embedder) -> None:
    np.testing.assert_allclose(await embedder.embed(SENTENCES), embedder.embed_sync(SENTENCES), atol=1e-6)


# ----------------------------------------------------------------------------- HashingEmbedder


def test_hashing_vectors_are_the_same_in_another_process() -> None:
    code = (
        "from avs_shared.adapters.embedding import HashingEmbedder;"
        "print(HashingEmbedder().embed_sync(['Cowboy Bebop 2071'])[0].tobytes().hex())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = HashingEmbedder().embed_sync(["Cowboy Bebop 2071"])[0]
    assert bytes.fromhex(out.stdout.strip()) == here.tobytes()


def test_hashing_ranks_shared_spelling_higher() -> None:
    texts = ["giant robot pilot", "giant robots piloted", "ramen cooking duel"]
    vectors = HashingEmbedder().embed_sync(texts)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


# ----------------------------------------------------------------------------- MiniLM


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx-int8", "onnx", "torch"])
def test_a_robot_query_is_closer_to_mecha_than_to_cooking(model_data_dir: Path, backend: Backend) -> None:
    embedder = MiniLMEmbedder(model_data_dir, backend=backend)
    query, mecha, cooking = embedder.embed_sync([QUERY, MECHA, COOKING])
    assert query @ mecha > query @ cooking + 0.1


@pytest.mark.slow
def test_onnx_agrees_with_sentence_transformers(model_data_dir: Path) -> None:
    reference = MiniLMEmbedder(model_data_dir, backend="torch").embed_sync(SENTENCES)
    fp32 = MiniLMEmbedder(model_data_dir, backend="onnx").embed_sync(SENTENCES)
    int8 = MiniLMEmbedder(model_data_dir, backend="onnx-int8").embed_sync(SENTENCES)
    assert cosines(fp32, reference).min() > 0.999
    assert cosines(int8, reference).min() > 0.98
    assert cosines(int8, fp32).min() > 0.98


def test_a_single_text_is_tokenised_as_it_is_in_a_batch(model_data_dir: Path) -> None:
    """One text takes the tokenizer's ``encode`` (it keeps the GIL), a batch ``encode_batch``:
    the same tokens, so (fp32, same length, no padding) the same vector."""
    embedder = MiniLMEmbedder(model_data_dir, backend="onnx")
    for text in [*MIXED_LENGTHS, " ".join(["robot"] * 300)]:
        alone = embedder.embed_sync([text])[0]
        in_batch = embedder.embed_sync([text, text])[0]
        np.testing.assert_allclose(alone, in_batch, atol=1e-5)


@pytest.mark.slow
def test_texts_are_truncated_at_256_tokens(model_data_dir: Path) -> None:
    # The bundled tokenizer.json truncates at 128; the model is used at 256.
    words = ["robot"] * 300
    at_200 = [*words[:200], "kitchen", *words[201:]]
    at_290 = [*words[:290], "kitchen", *words[291:]]
    embedder = MiniLMEmbedder(model_data_dir, backend="onnx")
    base, early, late = (embedder.embed_sync([" ".join(w)])[0] for w in (words, at_200, at_290))
    assert base @ early < 0.9999  # token 201 is read
    np.testing.assert_allclose(base, late, atol=1e-6)  # token 291 is not


@pytest.mark.slow
async def test_embed_leaves_the_event_loop_free(model_data_dir: Path) -> None:
    embedder = MiniLMEmbedder(model_data_dir)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    await embedder.embed([MECHA] * 96)
    elapsed = time.perf_counter() - started
    ticker.cancel()
    embedder.close()
    assert elapsed > 0.1, "too little work to observe the loop"
    assert ticks >= elapsed / 0.005 / 4  # a blocked loop would tick once or not at all


@pytest.mark.slow
def test_a_second_process_reuses_the_exported_cache(model_data_dir: Path) -> None:
    cache = MiniLMEmbedder(model_data_dir).cache_dir
    before = file_state(cache)
    code = (
        "import sys;from avs_shared.adapters.embedding import MiniLMEmbedder;"
        "e = MiniLMEmbedder(sys.argv[1]);print('backend', e.warm_up(), e.embed_sync(['x']).shape)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(model_data_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert "backend onnx-int8 (1, 384)" in out.stdout
    assert "embedding_onnx_export_started" not in out.stdout + out.stderr
    assert file_state(cache) == before


@pytest.mark.slow
def test_a_corrupt_cached_model_is_exported_again(model_data_dir: Path, tmp_path: Path) -> None:
    source = MiniLMEmbedder(model_data_dir).cache_dir
    copy = MiniLMEmbedder(tmp_path).cache_dir
    shutil.copytree(source, copy)
    manifest = read_manifest(copy)
    assert manifest is not None
    # What a non-atomic writer leaves after a crash: the first half of the file.
    int8 = copy / INT8_FILE
    int8.write_bytes(int8.read_bytes()[: int8.stat().st_size // 2])
    before = file_state(copy)

    embedder = MiniLMEmbedder(tmp_path)
    with structlog.testing.capture_logs() as logs:
        assert embedder.warm_up() == "onnx-int8"
    vectors = embedder.embed_sync(SENTENCES)

    misses = [e for e in logs if e["event"] == "embedding_onnx_cache_miss"]
    assert misses and "corrupt" in misses[0]["reason"]
    after = file_state(copy)
    assert after[INT8_FILE] != before[INT8_FILE]
    assert after[MANIFEST_FILE] != before[MANIFEST_FILE]
    assert int8.stat().st_size > 2 * (source / INT8_FILE).stat().st_size // 3
    assert not list(copy.glob(".*.tmp")), "temporary files were left behind"
    reference = MiniLMEmbedder(model_data_dir).embed_sync(SENTENCES)
    assert cosines(vectors, reference).min() > 0.98


@pytest.mark.slow
def test_an_export_killed_midway_leaves_no_half_file(model_data_dir: Path, tmp_path: Path) -> None:
    cache = MiniLMEmbedder(tmp_path).cache_dir
    code = (
        "import sys;from avs_shared.adapters.embedding import MiniLMEmbedder;"
        "MiniLMEmbedder(sys.argv[1]).warm_up()"
    )
    exporter = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        # Kill once the fp32 graph is written under its temporary name (quantisation is next).
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size > 0 for p in cache.glob(f".{FP32_FILE}.*.tmp")):
            assert exporter.poll() is None, "the export finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        exporter.kill()
    finally:
        exporter.kill()
        exporter.wait()
    assert not (cache / FP32_FILE).exists()
    assert not (cache / MANIFEST_FILE).exists()

    embedder = MiniLMEmbedder(tmp_path)
    assert embedder.warm_up() == "onnx-int8"
    assert not list(cache.glob(".*.tmp")), "the dead export's temporary files were not cleaned up"
    reference = MiniLMEmbedder(model_data_dir).embed_sync(SENTENCES)
    assert cosines(embedder.embed_sync(SENTENCES), reference).min() > 0.98


@pytest.mark.slow
def test_falls_back_to_torch_when_the_export_cannot_be_written(tmp_path: Path) -> None:
    # A regular file where the data directory should be: mkdir fails, even for root.
    data_dir = tmp_path / "not-a-directory"
    data_dir.write_text("")
    embedder = MiniLMEmbedder(data_dir)
    with structlog.testing.capture_logs() as logs:
        vectors = embedder.embed_sync([QUERY, MECHA, COOKING])
    assert embedder.active_backend == "torch"
    fallback = [e for e in logs if e["event"] == "embedding_backend_fallback"]
    assert len(fallback) == 1
    assert fallback[0]["log_level"] == "warning"
    assert fallback[0]["requested_backend"] == "onnx-int8"
    query, mecha, cooking = vectors
    assert query @ mecha > query @ cooking


def test_unknown_backend_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="onnx-int8"):
        MiniLMEmbedder(tmp_path, backend=cast("Backend", "tensorflow"))


def test_construction_does_no_io(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder(tmp_path / "data")
    assert embedder.active_backend is None
    assert not (tmp_path / "data").exists()
    embedder.close()
