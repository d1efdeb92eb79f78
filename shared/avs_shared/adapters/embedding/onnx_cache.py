"""The on-disk ONNX cache of all-MiniLM-L6-v2: export, int8 quantisation, verification.

Layout of ``<data_dir>/models/all-MiniLM-L6-v2/``::

    model.onnx       fp32 graph (input_ids, attention_mask) -> sentence_embedding,
                     mean pooling and L2 normalisation included, op for op as in
                     sentence-transformers
    model.int8.onnx  the same, weights quantised to int8 per channel, activations
                     quantised dynamically (onnxruntime ``quantize_dynamic``)
    manifest.json    sha256 of each file and of the source weights; written last
    .lock            ``flock`` held while exporting, so processes that share a
                     data_dir export once

Every file is written under a temporary name in the same directory, fsynced and
renamed into place, so a crash leaves the previous file or none, never half of
one. A file counts only if its sha256 matches the manifest and the manifest's
source hash matches the weights in the model directory; anything else (missing,
truncated, corrupt, stale after a model upgrade) is exported again. Only the
export needs torch; loading a cached file needs onnxruntime alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import structlog
from numpy.typing import NDArray

from avs_shared.adapters.embedding._common import encode_padded, load_tokenizer, model_max_seq_length

if TYPE_CHECKING:
    import torch

log: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
MANIFEST_FILE = "manifest.json"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "sentence_embedding"
_FORMAT = 1
_OPSET = 17
_SOURCE_FILES = ("model.safetensors", "config.json")
# sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2 on the HF hub.
UPSTREAM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# Padded on purpose: a trace with an all-ones mask may let the exporter drop the mask.
_PROBE_TEXTS = (
    "A boy pilots a giant robot to defend the last city on Earth.",
    "進撃の巨人は、諫山創による日本の漫画作品。",
    "Cooking",
    "A high-school girl joins the ramen club and learns that every bowl tells a story. " * 4,
)


class ExportError(RuntimeError):
    """The model could not be exported, quantised or verified."""


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` records about one export."""

    source_sha256: str
    files: dict[str, str]
    export_seconds: float
    exported_at: str
    versions: dict[str, str] = field(default_factory=dict)
    format: int = _FORMAT


def read_manifest(cache_dir: Path) -> Manifest | None:
    """The manifest of ``cache_dir``, or None when it is missing or unreadable."""
    try:
        raw = json.loads((cache_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        manifest = Manifest(**raw)
    except (OSError, ValueError, TypeError):
        return None
    return manifest if manifest.format == _FORMAT else None


def source_sha256(model_dir: Path) -> str:
    """One digest over the files the export depends on."""
    digest = hashlib.sha256()
    for name in _SOURCE_FILES:
        file_hash = _file_sha256(model_dir / name)
        if name == "model.safetensors" and file_hash != UPSTREAM_WEIGHTS_SHA256:
            # Vectors from other weights do not belong in an index built with upstream's.
            log.warning("embedding_weights_not_upstream", model_dir=str(model_dir), sha256=file_hash)
        digest.update(name.encode())
        digest.update(file_hash.encode())
    return digest.hexdigest()


def ensure_exported(model_dir: Path, cache_dir: Path, *, quantized: bool, force: bool = False) -> Path:
    """Return the path of a verified ONNX file, exporting (again) when needed.

    Parameters
    ----------
    model_dir:
        The sentence-transformers model directory (weights, config, tokenizer).
    cache_dir:
        Where the ONNX files live; created if missing.
    quantized:
        Return the int8 file instead of the fp32 one.
    force:
        Export even if the cache verifies (onnxruntime failed to load a file whose
        hash is right, e.g. after an onnxruntime downgrade).

    Raises
    ------
    ExportError, OSError
        The export failed, or its result did not verify.
    """
    name = INT8_FILE if quantized else FP32_FILE
    source = source_sha256(model_dir)
    if not force and (reason := _invalid_reason(cache_dir, source, name)) is None:
        return cache_dir / name
    log.info("embedding_onnx_cache_miss", cache_dir=str(cache_dir), reason="forced" if force else reason)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache_dir / ".lock"):
        # Another process may have exported while this one waited for the lock.
        if force or _invalid_reason(cache_dir, source, name) is not None:
            _export(model_dir, cache_dir, source)
    if (reason := _invalid_reason(cache_dir, source, name)) is not None:
        raise ExportError(f"{cache_dir / name} does not verify after export: {reason}")
    return cache_dir / name


def _invalid_reason(cache_dir: Path, source: str, name: str) -> str | None:
    manifest = read_manifest(cache_dir)
    if manifest is None:
        return "no readable manifest"
    if manifest.source_sha256 != source:
        return "model weights changed since export"
    expected = manifest.files.get(name)
    path = cache_dir / name
    if expected is None or not path.is_file():
        return f"{name} missing"
    if _file_sha256(path) != expected:
        return f"{name} corrupt (sha256 mismatch)"
    return None


def _export(model_dir: Path, cache_dir: Path, source: str) -> None:
    started = time.perf_counter()
    log.info("embedding_onnx_export_started", cache_dir=str(cache_dir))
    for stale in cache_dir.glob(".*.tmp"):  # left by a crashed export
        stale.unlink(missing_ok=True)
    fp32_tmp, int8_tmp = _temp_path(cache_dir, FP32_FILE), _temp_path(cache_dir, INT8_FILE)
    try:
        versions = _export_fp32(model_dir, fp32_tmp)
        _quantize(fp32_tmp, int8_tmp, model_dir)
        hashes = {FP32_FILE: _file_sha256(fp32_tmp), INT8_FILE: _file_sha256(int8_tmp)}
        for tmp, name in ((fp32_tmp, FP32_FILE), (int8_tmp, INT8_FILE)):
            _fsync(tmp)
            os.replace(tmp, cache_dir / name)
        seconds = round(time.perf_counter() - started, 2)
        manifest = Manifest(
            source_sha256=source,
            files=hashes,
            export_seconds=seconds,
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            versions=versions,
        )
        _write_atomically(cache_dir / MANIFEST_FILE, json.dumps(asdict(manifest), indent=2).encode())
        _fsync_dir(cache_dir)
        log.info("embedding_onnx_export_finished", cache_dir=str(cache_dir), seconds=seconds)
    finally:
        fp32_tmp.unlink(missing_ok=True)
        int8_tmp.unlink(missing_ok=True)


def _export_fp32(model_dir: Path, dest: Path) -> dict[str, str]:
    """Export the pooled, normalised encoder and check onnxruntime agrees with torch."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read by huggingface_hub at import
    import onnx
    import onnxruntime
    import torch
    import transformers
    from transformers import AutoModel

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # Eager attention traces to plain ops; the SDPA path branches on the mask in Python.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", local_files_only=True)
    # eval() on the wrapper, not only the model: a new Module starts in training mode,
    # and the exporter restores the wrapper's mode over the whole tree (dropout on).
    encoder = _pooled_encoder(model).eval()
    ids, mask = encode_padded(load_tokenizer(model_dir, model_max_seq_length(model_dir)), _PROBE_TEXTS)
    args = (torch.from_numpy(ids), torch.from_numpy(mask))
    with torch.no_grad(), warnings.catch_warnings():
        expected = encoder(*args).numpy()
        warnings.simplefilter("ignore")  # TracerWarnings and the legacy-exporter notice, all expected
        torch.onnx.export(
            encoder,
            args,
            str(dest),
            dynamo=False,  # the dynamo exporter needs onnxscript, which we do not ship
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                INPUT_NAMES[0]: {0: "batch", 1: "sequence"},
                INPUT_NAMES[1]: {0: "batch", 1: "sequence"},
                OUTPUT_NAME: {0: "batch"},
            },
            opset_version=_OPSET,
            do_constant_folding=True,
        )
    got = _run_onnx(dest, ids, mask)
    _require_agreement(got, expected, 0.9999, f"onnxruntime fp32 vs torch on {dest.name}")
    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": str(_OPSET),
    }


def _pooled_encoder(model: torch.nn.Module) -> torch.nn.Module:
    import torch

    class PooledEncoder(torch.nn.Module):
        """BERT + sentence-transformers' mean Pooling and Normalize, as one graph."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * weights).sum(dim=1)
            counts = weights.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed / counts, p=2.0, dim=1)

    return PooledEncoder(model)


def _quantize(fp32: Path, dest: Path, model_dir: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per channel: per-tensor int8 scales cost MiniLM up to 0.09 of cosine on long
    # texts; per channel keeps it above 0.98 at the same speed and size. onnxruntime's
    # pre-processing (symbolic shape inference) fails on this graph, and quantisation
    # does not need it, so its advice to run it is dropped.
    root = logging.getLogger()
    root.addFilter(_drop_preprocess_advice)
    try:
        quantize_dynamic(fp32, dest, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(_drop_preprocess_advice)
    ids, mask = encode_padded(load_tokenizer(model_dir, model_max_seq_length(model_dir)), _PROBE_TEXTS)
    _require_agreement(_run_onnx(dest, ids, mask), _run_onnx(fp32, ids, mask), 0.95, "int8 vs fp32")


def _drop_preprocess_advice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Please consider to run pre-processing")


def _run_onnx(path: Path, ids: NDArray[np.int64], mask: NDArray[np.int64]) -> NDArray[np.float32]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run([OUTPUT_NAME], {INPUT_NAMES[0]: ids, INPUT_NAMES[1]: mask})
    return np.asarray(out, dtype=np.float32)


def _require_agreement(
    got: NDArray[np.float32], expected: NDArray[np.float32], threshold: float, what: str
) -> None:
    cosines = np.sum(got * expected, axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    )
    if got.shape != expected.shape or not np.all(cosines > threshold):
        raise ExportError(f"{what}: cosine {cosines.min():.5f} <= {threshold}")


def _file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _temp_path(directory: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; other users of the data_dir must read it
    finally:
        os.close(fd)
    return Path(tmp)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = _temp_path(path.parent, path.name)
    try:
        tmp.write_bytes(data)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        _fsync(path)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An advisory ``flock``; the kernel releases it if the holder dies."""
    with lock_path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
