"""Colorizes a GeoTIFF with satcolor's Python module and rasterio, block by block, keeping
its georeferencing (CRS, transform, nodata): the pattern for rasters larger than memory.

    python examples/python/colorize_geotiff.py MODEL IN.tif OUT.tif [--device cpu] [--block 1024]

Each block of rows is read with a margin of one model window above and below (so tiles
near the block's edges see the same neighbourhood as in a whole-raster run), colorized,
and cropped back to the block before it is written. The output is written to a temporary
file beside OUT and renamed when complete.
"""

import argparse
import os

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.windows import Window

import satcolor


def _holds(dtype, value):
    """Whether numpy dtype `dtype` holds `value` exactly."""
    if np.isnan(value):
        return dtype.kind == "f"
    if dtype.kind == "f":
        return True
    info = np.iinfo(dtype)
    return info.min <= value <= info.max and float(value).is_integer()


def colorize_geotiff(model, src_path, dst_path, device="auto", block=1024):
    colorizer = satcolor.Colorizer(model, device=device)
    if colorizer.in_bands != 1:
        raise ValueError(f"{model}: this example handles one-band (panchromatic) models")
    tmp = os.path.join(os.path.dirname(os.path.abspath(dst_path)), f".{os.path.basename(dst_path)}.part")
    with rasterio.open(src_path) as src:
        nodata = src.nodata
        profile = src.profile.copy()
        out_dtype = np.dtype(colorizer.output_dtype)
        if nodata is not None and not _holds(out_dtype, nodata):
            nodata = None  # the output cannot carry it: its mask marks missing pixels
        profile.update(
            driver="GTiff",
            nodata=nodata,
            count=colorizer.bands,
            dtype=colorizer.output_dtype,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
        )
        # Missing input pixels with no nodata value to carry them: the output gets a mask.
        needs_mask = nodata is None and MaskFlags.all_valid not in src.mask_flag_enums[0]
        margin = colorizer.window
        try:
            with rasterio.open(tmp, "w", **profile) as dst:
                for row in range(0, src.height, block):
                    rows = min(block, src.height - row)
                    top = max(0, row - margin)
                    bottom = min(src.height, row + rows + margin)
                    window = Window(0, top, src.width, bottom - top)
                    pan = src.read(1, window=window)
                    # GDAL's validity mask (nodata, alpha or a mask band): 255 = valid.
                    valid = src.read_masks(1, window=window) > 0
                    rgb = colorizer.colorize(pan, nodata=src.nodata, mask=valid)
                    crop = rgb[:, row - top : row - top + rows, :]
                    dst.write(crop, window=Window(0, row, src.width, rows))
                    if needs_mask:
                        dst.write_mask(valid[row - top : row - top + rows, :], window=Window(0, row, src.width, rows))
                for b, name in enumerate(colorizer.band_names, start=1):
                    dst.set_band_description(b, name)
            os.replace(tmp, dst_path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--device", default="auto")
    p.add_argument("--block", type=int, default=1024, help="rows per block")
    a = p.parse_args()
    colorize_geotiff(a.model, a.input, a.output, a.device, a.block)


if __name__ == "__main__":
    main()
