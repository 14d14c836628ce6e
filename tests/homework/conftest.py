"""Homework tests import the book's cells and the answer library from this folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
