"""Fixtures shared by the adapter tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from avs_shared.adapters.embedding import MiniLMEmbedder


@pytest.fixture(scope="session")
def model_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_dir whose ONNX cache is exported once for the session."""
    data_dir = tmp_path_factory.mktemp("embedding-data")
    embedder = MiniLMEmbedder(data_dir)
    try:
        assert embedder.warm_up() == "onnx-int8", "the ONNX export failed; see the fallback warning"
    finally:
        embedder.close()
    return data_dir
