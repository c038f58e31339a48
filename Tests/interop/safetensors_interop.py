#!/usr/bin/env python3
"""Interoperability check between Anneal's safetensors code and the
reference Python library (`safetensors` + `numpy`).

Usage:
    safetensors_interop.py check-anneal FILE      # FILE was written by Anneal
    safetensors_interop.py write-for-anneal FILE  # write a file for Anneal to read
    safetensors_interop.py self-test DIR          # both directions in Python only

check-anneal expects exactly what the Swift test `interopTensorsFromAnneal()`
(Tests/AnnealDataTests/SafeTensorsTests.swift) writes, with metadata
{"producer": "anneal", "step": "7"}; write-for-anneal writes what that test
expects back. Keep the two in step. Exit status 0 on success, 1 on a
mismatch (with a message on stderr), 2 on bad usage or missing packages.

The Swift side runs this when ANNEAL_INTEROP_PYTHON names a Python with the
packages importable, e.g.:
    pip install --target /tmp/pydeps safetensors numpy
    ANNEAL_INTEROP_PYTHON=$(command -v python3) PYTHONPATH=/tmp/pydeps swift test
"""

import json
import struct
import sys

try:
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"safetensors_interop: missing package: {exc}", file=sys.stderr)
    sys.exit(2)


def expected_from_anneal():
    """The tensors Anneal writes (all F32)."""
    return {
        "weight": np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.5) - np.float32(1),
        "bias": np.array([0.25, -0.5, 0.001], dtype=np.float32),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "zeta/\u00fc": np.array([[[-0.0, 1e-30]]], dtype=np.float32),
    }


EXPECTED_METADATA = {"producer": "anneal", "step": "7"}


def fail(message):
    print(f"safetensors_interop: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check_anneal(path):
    tensors = load_file(path)
    expected = expected_from_anneal()
    if sorted(tensors) != sorted(expected):
        fail(f"tensor names {sorted(tensors)} != {sorted(expected)}")
    for name, want in expected.items():
        got = tensors[name]
        if got.dtype != np.float32:
            fail(f"{name}: dtype {got.dtype}, expected float32")
        if got.shape != want.shape:
            fail(f"{name}: shape {got.shape}, expected {want.shape}")
        if got.tobytes() != want.tobytes():  # bit-exact, keeps the sign of -0.0
            fail(f"{name}: values {got.ravel().tolist()} != {want.ravel().tolist()}")
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
    if metadata != EXPECTED_METADATA:
        fail(f"metadata {metadata} != {EXPECTED_METADATA}")
    # Layout promised by Anneal: data in name order (UTF-8 byte order),
    # header padded to a multiple of 8.
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    if (8 + n) % 8 != 0:
        fail(f"header length {n} leaves the data section unaligned")
    names = sorted((k for k in header if k != "__metadata__"), key=lambda s: s.encode("utf-8"))
    offset = 0
    for name in names:
        begin, end = header[name]["data_offsets"]
        if begin != offset:
            fail(f"{name}: data starts at {begin}, expected {offset} (name order)")
        offset = end
    print(f"check-anneal: {len(expected)} tensors match")


def write_for_anneal(path):
    tensors = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "f16": np.array([1, -2, 0.5, 65504], dtype=np.float16),
        "f64": np.array([0.1, -3.0], dtype=np.float64),
        "i64": np.array([1, -2, 1 << 40, (1 << 53) + 1], dtype=np.int64),
        "i32": np.array([-7, 100000], dtype=np.int32),
        "scalar": np.array(2.5, dtype=np.float32),
        "u8": np.array([[0, 255]], dtype=np.uint8),
        "i16": np.array([-32768, 300], dtype=np.int16),
        "bool": np.array([True, False, True], dtype=np.bool_),
    }
    save_file(tensors, path, metadata={"producer": "python"})
    print(f"write-for-anneal: wrote {len(tensors)} tensors to {path}")


def self_test(directory):
    """Writes the Anneal-side file with the reference library and checks it."""
    import os

    path = os.path.join(directory, "self_test.safetensors")
    save_file(expected_from_anneal(), path, metadata=EXPECTED_METADATA)
    check_anneal(path)
    write_for_anneal(os.path.join(directory, "self_test_python.safetensors"))


def main(argv):
    commands = {"check-anneal": check_anneal, "write-for-anneal": write_for_anneal, "self-test": self_test}
    if len(argv) != 3 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    commands[argv[1]](argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
