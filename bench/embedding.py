"""Benchmark: the text embedder's three backends side by side on synthetic anime texts.

Each text is a title plus a 60-150 word synopsis, like the text the indexer embeds.
The same texts go through sentence-transformers (torch), onnxruntime fp32 and
onnxruntime int8, in interleaved rounds so that drift in machine load hits every
backend alike; the table gives texts/s per backend, the int8-vs-torch speed-up and
how closely the ONNX vectors agree with sentence-transformers'.

    python -m bench.embedding [n]

The ONNX cache lives under ``$AVS_DATA_DIR`` (default ``.data``); the first run
exports it, and the table says how long that took.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from avs_shared.adapters.embedding import BACKENDS, MiniLMEmbedder
from avs_shared.adapters.embedding.onnx_cache import read_manifest
from avs_shared.settings import ServiceSettings, load_settings

ROUNDS = 4

_TITLE_HEADS = [
    "Kidou", "Mahou", "Shoujo", "Sora no", "Tokyo", "Kimi no", "Hoshi no", "Ginga", "Yami no", "Kaze no",
    "Tenkuu", "Kurogane", "Shinsekai", "Akatsuki no", "Ao no", "Seirei",
]  # fmt: skip
_TITLE_TAILS = [
    "Senki", "Monogatari", "Gakuen", "Densetsu", "Kishi", "Yuusha", "Tantei", "Shokudou", "Idol",
    "Kaizoku", "Majo", "Ryuu", "Kiseki", "Ongaku", "Ken", "Rondo",
]  # fmt: skip
_SUBTITLES = [
    "The Last Pilot", "Requiem for a Star", "Second Season", "The Movie", "Beyond the Wall",
    "A Certain Summer", "Final Chapter", "Zero", "Rebirth", "Under the Cherry Trees", "",
]  # fmt: skip
_PEOPLE = [
    "a withdrawn high-school boy", "a cheerful transfer student", "an exiled prince",
    "a retired bounty hunter", "a young witch", "the captain of a failing volleyball club",
    "an amnesiac android", "a timid idol trainee", "a genius detective", "a ramen chef's daughter",
    "a sword-wielding demon slayer", "a disgraced knight",
]  # fmt: skip
_GOALS = [
    "must pilot a giant robot to defend the last city on Earth",
    "sets out to find the legendary treasure hidden beyond the sea",
    "enrolls in an elite academy where duels decide every student's rank",
    "tries to save her family's small restaurant from closing",
    "is reincarnated in a fantasy world with a strange power",
    "joins a band and prepares for the biggest concert of the year",
    "investigates a series of mysterious disappearances in a quiet mountain town",
    "fights to protect humanity from the monsters that devour people at night",
]  # fmt: skip
_SENTENCES = [
    "Along the way {who} meets {other}, who hides a painful secret.",
    "Old rivalries resurface as the {place} falls into chaos.",
    "Every victory comes at a price, and friendships are tested again and again.",
    "The story follows their everyday life, with its small joys and quiet sorrows.",
    "A shadowy organization watches from afar, waiting for the right moment to strike.",
    "Between training, exams and part-time jobs, there is little time left for romance.",
    "As the tournament draws near, {who} must learn to trust the team.",
    "Memories of the war return in dreams that feel more real each night.",
    "When the {place} is attacked, nobody is ready for what comes next.",
    "Humor and heartbreak alternate as the seasons change over the {place}.",
    "Each episode introduces a new case that slowly reveals a larger conspiracy.",
    "Based on the popular manga, the series adapts the first three story arcs.",
]  # fmt: skip
_PLACES = ["academy", "kingdom", "space colony", "seaside town", "capital", "underground city", "shrine"]


def synthetic_anime_texts(n: int, *, seed: int = 7) -> list[str]:
    """``n`` texts of a title and a 60-150 word synopsis, the same for a given seed."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        subtitle = rng.choice(_SUBTITLES)
        title = f"{rng.choice(_TITLE_HEADS)} {rng.choice(_TITLE_TAILS)}"
        title += f": {subtitle}" if subtitle else ""
        who = rng.choice(_PEOPLE)
        words = f"{who.capitalize()} {rng.choice(_GOALS)}.".split()
        target = rng.randint(60, 150)
        pool: list[str] = []
        while len(words) < target:
            if not pool:  # every sentence once before any repeats
                pool = rng.sample(_SENTENCES, len(_SENTENCES))
            sentence = pool.pop().format(who=who, other=rng.choice(_PEOPLE), place=rng.choice(_PLACES))
            words.extend(sentence.split())
        texts.append(f"{title}. {' '.join(words[:target])}")
    return texts


def run(n: int = 2000, *, data_dir: Path | None = None, batch_size: int = 64) -> dict[str, object]:
    """Embed ``n`` synthetic texts with every backend and return the measurements."""
    data_dir = data_dir if data_dir is not None else load_settings(ServiceSettings).data_dir
    texts = synthetic_anime_texts(n)
    embedders = {b: MiniLMEmbedder(data_dir, backend=b, batch_size=batch_size) for b in BACKENDS}
    cache_was_valid = read_manifest(embedders["onnx-int8"].cache_dir) is not None
    load_seconds: dict[str, float] = {}
    for backend, embedder in embedders.items():
        started = time.perf_counter()
        active = embedder.warm_up()
        load_seconds[backend] = time.perf_counter() - started
        if active != backend:
            raise RuntimeError(f"backend {backend} fell back to {active}; see the log")
        embedder.embed_sync(texts[:batch_size])  # first-run allocations are not throughput

    # Interleaved rounds: each backend embeds the same chunk before the next chunk starts.
    seconds = dict.fromkeys(BACKENDS, 0.0)
    vectors: dict[str, list[NDArray[np.float32]]] = {b: [] for b in BACKENDS}
    chunk = -(-n // ROUNDS)
    for start in range(0, n, chunk):
        for backend, embedder in embedders.items():
            began = time.perf_counter()
            vectors[backend].append(embedder.embed_sync(texts[start : start + chunk]))
            seconds[backend] += time.perf_counter() - began
    for embedder in embedders.values():
        embedder.close()

    full = {b: np.concatenate(v) for b, v in vectors.items()}
    rate = {b: n / seconds[b] for b in BACKENDS}
    manifest = read_manifest(embedders["onnx-int8"].cache_dir)
    return {
        "n": n,
        "batch_size": batch_size,
        "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
        "texts_per_second": {b: round(r, 1) for b, r in rate.items()},
        "int8_vs_torch_speedup": round(rate["onnx-int8"] / rate["torch"], 2),
        "fp32_vs_torch_speedup": round(rate["onnx"] / rate["torch"], 2),
        "cosine_vs_torch": {
            b: {"min": round(float(c.min()), 5), "mean": round(float(c.mean()), 5)}
            for b in ("onnx", "onnx-int8")
            for c in [np.sum(full[b] * full["torch"], axis=1)]
        },
        "load_seconds": {b: round(s, 2) for b, s in load_seconds.items()},
        "export_seconds": manifest.export_seconds if manifest else None,
        "exported_in_this_run": not cache_was_valid,
    }


def print_report(result: dict[str, object]) -> None:
    """Print what :func:`run` returned as a small table."""
    rates = result["texts_per_second"]
    cosines = result["cosine_vs_torch"]
    assert isinstance(rates, dict) and isinstance(cosines, dict)
    n, words, batch = result["n"], result["mean_words"], result["batch_size"]
    print(f"embedding: n={n} texts, {words} words on average, batch size {batch}")
    print(f"{'backend':12} {'texts/s':>9} {'cosine vs torch (min / mean)':>30}")
    for backend, rate in rates.items():
        agreement = cosines.get(backend)
        shown = f"{agreement['min']:.5f} / {agreement['mean']:.5f}" if agreement else "reference"
        print(f"{backend:12} {rate:9.1f} {shown:>30}")
    int8, fp32 = result["int8_vs_torch_speedup"], result["fp32_vs_torch_speedup"]
    print(f"int8 vs torch speed-up: {int8}x (fp32 vs torch: {fp32}x)")
    exported = " (exported in this run)" if result["exported_in_this_run"] else " (cached)"
    print(f"ONNX export + int8 quantisation: {result['export_seconds']} s{exported}")


if __name__ == "__main__":
    print_report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
