"""Type stubs of satcolor's Python module (the PyO3 extension satcolor._satcolor)."""

from os import PathLike
from typing import Optional, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Colorizer:
    """A checkpoint's generator on a device: colorizes numpy arrays of raw band values.

    One Colorizer may be shared by threads (they take turns); threads with their own
    Colorizer run in parallel. The GIL is released while it opens and computes.
    """

    def __init__(
        self,
        path: Union[str, PathLike[str]],
        device: str = "auto",
        *,
        precision: Optional[str] = None,
        batch: int = 16,
        overlap: Optional[int] = None,
    ) -> None:
        """Opens the checkpoint file `path` on `device` ("auto", "cpu", "emu", "cuda",
        "cuda:N"); `precision` is "fp32", "tf32", "3xtf32", "bf16" or "fp16" (GPUs).

        Raises OSError (a file that cannot be read) or ValueError (not a checkpoint, an
        unknown or unavailable device, bad settings)."""
    @staticmethod
    def from_bytes(
        data: bytes,
        device: str = "auto",
        *,
        precision: Optional[str] = None,
        batch: int = 16,
        overlap: Optional[int] = None,
    ) -> "Colorizer":
        """Opens a checkpoint held in memory (the bytes of a .safetensors file)."""
    def colorize(
        self,
        array: npt.NDArray[Union[np.uint8, np.uint16, np.int16, np.float32, np.float64]],
        nodata: Optional[float] = None,
        mask: Optional[npt.NDArray[np.bool_]] = None,
        *,
        interleaved: bool = False,
    ) -> npt.NDArray[Union[np.uint8, np.uint16, np.int16, np.float32]]:
        """Colorizes raw band values shaped (rows, cols) or (bands, rows, cols) —
        (rows, cols, bands) with interleaved=True — into the output bands, shaped
        (bands, rows, cols) or (rows, cols, bands), of the model's output dtype.

        `nodata` (and NaN) marks missing input pixels, as does `mask` (False = nodata);
        missing pixels get `nodata` in the output when its dtype holds it, else 0 (NaN
        for float32). Raises ValueError for bad arrays (band count, dtype, shape)."""
    @property
    def bands(self) -> int:
        """Bands of the output."""
    @property
    def in_bands(self) -> int:
        """Bands of the input."""
    @property
    def band_names(self) -> list[str]:
        """The output bands' names, e.g. ["red", "green", "blue"]."""
    @property
    def window(self) -> int:
        """Side of the square tiles the generator runs on."""
    @property
    def overlap(self) -> int:
        """Overlap of neighbouring tiles in pixels."""
    @property
    def input_dtype(self) -> str:
        """numpy dtype name of the model's input bands."""
    @property
    def output_dtype(self) -> str:
        """numpy dtype name of the output."""
    @property
    def device(self) -> str:
        """The device, e.g. "cpu (2 threads)"."""
    @property
    def precision(self) -> str:
        """The convolutions' arithmetic, e.g. "fp32"."""
