"""Every engine setting, declared once: its key, type, default, environment variable and flag.

The one precedence, for every setting: the command-line flag, then the
environment variable, then the library's saved choice (settings.json, for the
settings a user picks in the app), then the default. `value()` is the only
place that reads a GLIMPSE_* variable (tests/test_settings.py checks it), and
README's "Settings" table is checked against these declarations.

Kept free of imports beyond the standard library: the CLI reads settings
before it decides whether the engine must load at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: object
    env: str
    help: str
    flag: str | None = None  # the CLI option that sets it, where one does
    saved: bool = False  # remembered in the library's settings.json (chosen in the app)
    choices: tuple[str, ...] = ()
    testing: bool = False  # a hook for the fault-injection tests, not a user setting

    def parse(self, raw: object) -> object:
        """A raw value (flag, environment, JSON) as this setting's type; ValueError if not."""
        if self.type is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE or text == "":
                return False
            raise ValueError(f"{self.env}={raw!r} is not a yes/no value (use 1 or 0)")
        if self.type is str:
            value = str(raw).strip()
            if self.choices and value.lower() not in self.choices:
                raise ValueError(
                    f"{self.env}={raw!r}: choose one of {', '.join(self.choices)}")
            return value.lower() if self.choices else value
        return self.type(raw)


SETTINGS: tuple[Setting, ...] = (
    Setting("library", str, None, "GLIMPSE_LIBRARY", flag="--library",
            help="the library folder (catalog, settings); default: the user's data folder"),
    Setting("model", str, None, "GLIMPSE_MODEL", flag="--model", saved=True,
            help="the model: a preset (fast, balanced, best, multilingual), ARCH:TAG or "
                 "ARCH:/path/to/checkpoint; default: the library's, else fast"),
    Setting("device", str, "auto", "GLIMPSE_DEVICE", flag="--device", saved=True,
            choices=("auto", "cpu", "cuda", "mps", "gpu"),
            help="where the model runs; auto or gpu: a GPU when there is one"),
    Setting("precision", str, "int8", "GLIMPSE_PRECISION", flag="--precision", saved=True,
            choices=("int8", "fp32"),
            help="ONNX Runtime's towers on a CPU: int8 (2.7x as fast, within cosine 0.99) "
                 "or fp32 as exported"),
    Setting("engine", str, "auto", "GLIMPSE_ENGINE", choices=("auto", "onnx", "torch"),
            help="auto: ONNX Runtime on a CPU, torch on a GPU"),
    Setting("onnx_threads", int, 0, "GLIMPSE_ONNX_THREADS",
            help="ONNX Runtime's threads for the CLIP towers; 0: one per core"),
    Setting("onnx_cache", str, None, "GLIMPSE_ONNX_CACHE",
            help="where exported ONNX towers are kept; default: the user's cache folder"),
    Setting("vips", bool, True, "GLIMPSE_VIPS",
            help="decode PNG and WebP at reduced size through libvips when it is installed"),
    Setting("vector_tier", str, "exact", "GLIMPSE_VECTOR_TIER", choices=("exact", "auto"),
            help="exact: every search scans all vectors; auto: above 200,000 an HNSW graph "
                 "built in the background answers when it passes its recall check"),
    Setting("relevance_cutoff", float, None, "GLIMPSE_RELEVANCE_CUTOFF",
            help="a z: results whose score stands fewer standard deviations above the "
                 "library's typical photo are weaker matches; default: the model's cosine "
                 "cut-off calibrated by `glimpse eval`, else z 1.86; -inf folds nothing"),
    Setting("lock_wait_s", float, 10.0, "GLIMPSE_LOCK_WAIT_S",
            help="how long a write job waits for another one on the same library"),
    Setting("no_service", bool, False, "GLIMPSE_NO_SERVICE",
            help="never ask a running Glimpse to answer a search; always work in-process"),
    Setting("resources", str, None, "GLIMPSE_RESOURCES",
            help="the app's icons and stylesheet folder (a bundle sets it)"),
    Setting("fault_pause", str, None, "GLIMPSE_FAULT_PAUSE", testing=True,
            help="fault injection: pause at this named point (core/faults.py)"),
    Setting("fault_mark", str, None, "GLIMPSE_FAULT_MARK", testing=True,
            help="fault injection: the file created when the pause point is reached"),
    Setting("fault_sleep_s", float, 600.0, "GLIMPSE_FAULT_SLEEP_S", testing=True,
            help="fault injection: how long the pause lasts"),
)

_BY_KEY = {s.key: s for s in SETTINGS}


def setting(key: str) -> Setting:
    return _BY_KEY[key]


def value(
    key: str,
    flag: object = None,
    saved: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> object:
    """The setting's value: flag, then environment, then saved choice, then default.

    A malformed environment value is an error the user can act on (ValueError
    naming the variable), never silently the default."""
    s = _BY_KEY[key]
    if flag is not None:
        return s.parse(flag)
    env = os.environ if environ is None else environ
    raw = env.get(s.env)
    if raw is not None and raw.strip() != "":
        return s.parse(raw)
    if saved is not None and s.saved and saved.get(key) not in (None, ""):
        return s.parse(saved[key])
    return s.default


def text(key: str, flag: object = None, saved: Mapping[str, object] | None = None) -> str | None:
    got = value(key, flag, saved)
    return None if got is None else str(got)


def number(key: str, flag: object = None) -> float:
    got = value(key, flag)
    assert isinstance(got, (int, float))
    return float(got)


def enabled(key: str) -> bool:
    return bool(value(key))
