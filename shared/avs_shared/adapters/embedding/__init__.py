"""Adapters of the ``Embedder`` port (:mod:`avs_shared.ports.embedding`).

* :class:`MiniLMEmbedder` - all-MiniLM-L6-v2 on onnxruntime (int8 or fp32) or torch;
  the production embedder.
* :class:`HashingEmbedder` - deterministic hashed n-grams; for unit tests only.

Importing this package loads neither torch nor onnxruntime; the model loads on first use.
"""

from avs_shared.adapters.embedding.hashing import HashingEmbedder
from avs_shared.adapters.embedding.minilm import BACKENDS, DIMENSION, MODEL_NAME, Backend, MiniLMEmbedder

__all__ = ["BACKENDS", "DIMENSION", "MODEL_NAME", "Backend", "HashingEmbedder", "MiniLMEmbedder"]
