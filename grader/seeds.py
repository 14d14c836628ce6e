"""Seeds and hidden inputs, derived in the grader's process only.

Students checking locally get the public seed; instructors set ``GRADER_SECRET`` and
every hidden input and execution seed is an HMAC of it. The secret itself never leaves
this process: only the numbers derived from it reach the kernel, and only those a
probe needs.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

__all__ = ["PUBLIC_SECRET", "derive_seed", "hidden_rng"]

PUBLIC_SECRET = "d2l-grade public seed"


def derive_seed(secret: str, *purpose: str) -> int:
    """A 31-bit seed for ``purpose`` (e.g. ``("broadcasting", "inputs")``)."""
    key = (secret or PUBLIC_SECRET).encode("utf-8")
    digest = hmac.new(key, "/".join(purpose).encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def hidden_rng(secret: str, *purpose: str) -> np.random.Generator:
    """A numpy generator for the hidden inputs of ``purpose``."""
    return np.random.default_rng(derive_seed(secret, *purpose))
