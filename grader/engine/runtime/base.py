# Kernel side: shared state of the grader's runtime inside the student's kernel.
#
# The files of this folder are concatenated (base.py first, install.py last) and
# executed as one module, `_d2lgrade_runtime`, kept in sys.modules so that %reset or
# a notebook that deletes its globals does not remove it. Nothing here is trusted by
# the grader: whatever this code sends back is data that the grader checks itself.
import base64 as _b64
import json as _json
import math as _math
import sys as _sys
import time as _time

MIME_EVENT = "application/vnd.d2l-grade.event+json"
MIME_RESULT = "application/vnd.d2l-grade.result+json"

_CONFIG = {"data_dir": "", "seed": 0, "output_limit": 200_000, "figures": False, "network": "namespace",
           "hide_modules": [], "threads": 0}
_STATE = {"network": [], "offline_served": [], "out_bytes": 0, "out_marked": False, "in_probe": False}
_ORIG = {}
_POST_IMPORT = {}      # module name -> [callables run right after that module is first imported]
_CELL_END = []         # callables returning {key: data} merged into the end-of-cell event


def _on_import(name):
    """Decorator: run the function with the module as soon as ``name`` has been imported."""
    def register(fn):
        _POST_IMPORT.setdefault(name, []).append(fn)
        return fn
    return register


def _publish(mime, payload):
    _ORIG["publish"](data={mime: payload}, metadata={})
