"""satcolor: colorize panchromatic satellite imagery (and synthesize multispectral bands)
with trained GANs, from numpy arrays.

>>> import satcolor
>>> c = satcolor.Colorizer("run/model.safetensors", device="auto")   # doctest: +SKIP
>>> rgb = c.colorize(pan, nodata=0)                                  # doctest: +SKIP

`Colorizer.colorize` takes raw band values of the model's input dtype (or float32/64) shaped
(rows, cols) or (bands, rows, cols), tiles and blends them as `satcolor colorize` does, and
returns (bands, rows, cols) in the model's output dtype. The GIL is released while it runs.
"""

from ._satcolor import Colorizer, __version__

__all__ = ["Colorizer", "__version__"]
