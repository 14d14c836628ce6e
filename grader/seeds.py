"""Seeds and hidden inputs, derived in the grader's process only.

Students checking locally get the public seed; instructors set ``GRADER_SECRET`` and
every hidden input and execution seed is an HMAC of it. With a secret, each student gets
inputs of their own: :func:`student_secret` mixes the student id into the secret, so one
leaked report is no answer key for anyone else, and the instructor reproduces any
student's inputs from the secret and the id (``grade NOTEBOOK --student ID``). The secret
itself never leaves this process: only the numbers derived from it reach the kernel, and
only those a probe needs.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

__all__ = ["PUBLIC_SECRET", "derive_seed", "hidden_rng", "student_secret"]

PUBLIC_SECRET = "d2l-grade public seed"


def student_secret(secret: str, student: str) -> str:
    """The secret one student's hidden inputs derive from: an HMAC of the instructor's
    ``secret`` and the ``student`` id. Without a secret the public seed stays public (a
    student's local run equals everyone's); without an id the secret is used as it is."""
    if not secret or not student:
        return secret
    digest = hmac.new(secret.encode("utf-8"), b"student/" + student.encode("utf-8"), hashlib.sha256)
    return "student:" + digest.hexdigest()


def derive_seed(secret: str, *purpose: str) -> int:
    """A 31-bit seed for ``purpose`` (e.g. ``("broadcasting", "inputs")``)."""
    key = (secret or PUBLIC_SECRET).encode("utf-8")
    digest = hmac.new(key, "/".join(purpose).encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def hidden_rng(secret: str, *purpose: str) -> np.random.Generator:
    """A numpy generator for the hidden inputs of ``purpose``."""
    return np.random.default_rng(derive_seed(secret, *purpose))
