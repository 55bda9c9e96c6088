"""Progress bars for long work (weights loading, diffusion steps).

The native module calls ``make(progress)`` once per run and then
``update(stage, step, total)`` from the main thread whenever the run moves
on, and ``close()`` at the end, so bars are drawn with the GIL held and
never from a worker thread.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any, Callable, Optional, Union

ProgressArg = Union[bool, str, Callable[[str, int, int], Any], None]
"""What ``progress=`` accepts (see ``make``)."""

_LABELS = {
    "loading": "loading",
    "encoding": "encoding",
    "denoising": "painting",
    "decoding": "decoding",
}


class _Callback:
    """Calls ``fn(stage, step, total)``: the user's own progress hook."""

    def __init__(self, fn: Callable[[str, int, int], Any]) -> None:
        self._fn = fn

    def update(self, stage: str, step: int, total: int) -> None:
        self._fn(stage, step, total)

    def close(self) -> None:
        pass


class _Plain:
    """A one-line text bar on stderr, for when tqdm is not installed."""

    width = 30

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._drawn = False

    def update(self, stage: str, step: int, total: int) -> None:
        total = max(total, 1)
        filled = min(self.width, self.width * step // total)
        bar = "=" * filled + " " * (self.width - filled)
        label = _LABELS.get(stage, stage)
        self._stream.write(f"\r{label:>9} [{bar}] {step}/{total}")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


class _Tqdm:
    """One tqdm bar per run, reset at each stage (a widget in Jupyter when
    ipywidgets is installed, text elsewhere)."""

    def __init__(self, tqdm: Any) -> None:
        self._tqdm = tqdm
        self._bar: Any = None
        self._stage: Optional[str] = None

    def update(self, stage: str, step: int, total: int) -> None:
        if self._bar is None:
            self._bar = self._tqdm(total=total, desc=_LABELS.get(stage, stage), leave=False)
        elif stage != self._stage:
            self._bar.set_description(_LABELS.get(stage, stage), refresh=False)
            self._bar.reset(total=total)
        self._stage = stage
        self._bar.n = step
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _tqdm_class() -> Any:
    """tqdm's notebook widget where it can draw, else its text bar."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped, unused-ignore]
    else:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    return tqdm


def make(progress: ProgressArg) -> Optional[Any]:
    """The bar ``progress`` asks for: ``None``/``True``/``"auto"`` (tqdm
    when installed, else plain text), ``"tqdm"``, ``"plain"``, a callable
    ``fn(stage, step, total)``, or ``False`` for none."""
    if progress is False:
        return None
    if callable(progress):
        return _Callback(progress)
    if progress is None or progress is True or progress == "auto" or progress == "tqdm":
        try:
            tqdm = _tqdm_class()
        except ImportError:
            if progress == "tqdm":
                raise ImportError("progress='tqdm' needs tqdm: pip install tqdm") from None
            return _Plain()
        return _Tqdm(tqdm)
    if progress == "plain":
        return _Plain()
    raise ValueError(
        f"progress must be True, False, 'auto', 'tqdm', 'plain' or a callable, not {progress!r}"
    )
