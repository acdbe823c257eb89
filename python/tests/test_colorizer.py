"""satcolor's Python module as its users call it: the same values as `satcolor colorize`
on the same raster, every array layout and dtype it takes, exceptions for bad input,
the GIL released while it computes, and the rasterio example end to end."""

import os
import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import rasterio
from affine import Affine

import satcolor

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "data" / "pan-rgb-tiny.safetensors"
# The command line built by cargo (scripts/test.sh passes it); its default place otherwise.
SATCOLOR_BIN = os.environ.get("SATCOLOR_BIN", str(ROOT / "target" / "debug" / "satcolor"))
CRS = "EPSG:32633"
TRANSFORM = Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 4200000.0)


def pan(width=77, height=45, seed=0):
    """A uint16 panchromatic pattern in the model's range with a few 0 (nodata) pixels."""
    y, x = np.mgrid[0:height, 0:width]
    v = 1300 + 600 * np.sin(0.17 * x + seed) + 400 * np.cos(0.11 * y)
    v = np.round(v).astype(np.uint16)
    v[(x * 7 + y * 3) % 41 == 0] = 0
    return v


def write_pan(path, array, nodata=0):
    with rasterio.open(
        path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
        dtype=array.dtype, crs=CRS, transform=TRANSFORM, nodata=nodata,
    ) as dst:
        dst.write(array, 1)


@pytest.fixture(scope="module")
def colorizer():
    return satcolor.Colorizer(MODEL, device="cpu")


def test_properties(colorizer):
    assert (colorizer.in_bands, colorizer.bands, colorizer.window) == (1, 3, 32)
    assert colorizer.band_names == ["red", "green", "blue"]
    assert (colorizer.input_dtype, colorizer.output_dtype) == ("uint16", "uint16")
    assert colorizer.overlap == 8
    assert colorizer.device.startswith("cpu")
    assert colorizer.precision == "fp32"
    assert satcolor.__version__


def test_equals_the_command_line(colorizer, tmp_path):
    x = pan()
    src = tmp_path / "pan.tif"
    write_pan(src, x)
    out = tmp_path / "rgb.tif"
    subprocess.run(
        [SATCOLOR_BIN, "colorize", "--model", str(MODEL), str(src), str(out), "--device", "cpu"],
        check=True, capture_output=True,
    )
    with rasterio.open(out) as ds:
        cli = ds.read()
        assert ds.nodata == 0
    got = colorizer.colorize(x, nodata=0)
    assert got.dtype == np.uint16 and got.shape == (3, 45, 77)
    np.testing.assert_array_equal(got, cli)
    assert ((got == 0) == (x == 0)[None]).all()


def test_layouts_and_dtypes_give_the_same_values(colorizer):
    x = pan()
    want = colorizer.colorize(x, nodata=0)
    np.testing.assert_array_equal(colorizer.colorize(x[None], nodata=0), want)
    np.testing.assert_array_equal(colorizer.colorize(x.astype(np.float32), nodata=0), want)
    np.testing.assert_array_equal(colorizer.colorize(x.astype(np.float64), nodata=0), want)
    inter = colorizer.colorize(x[:, :, None], nodata=0, interleaved=True)
    assert inter.shape == (45, 77, 3)
    np.testing.assert_array_equal(np.moveaxis(inter, 2, 0), want)
    # A strided view (every other column of a wider array) and a Fortran-ordered copy.
    wide = np.repeat(x, 2, axis=1)
    np.testing.assert_array_equal(colorizer.colorize(wide[:, ::2], nodata=0), want)
    np.testing.assert_array_equal(colorizer.colorize(np.asfortranarray(x), nodata=0), want)
    # A mask instead of a nodata value; NaN in float input is nodata too.
    masked = colorizer.colorize(x, mask=x != 0)
    np.testing.assert_array_equal(masked, want)
    f = x.astype(np.float32)
    f[x == 0] = np.nan
    np.testing.assert_array_equal(colorizer.colorize(f), want)


def test_bad_input_raises(colorizer, tmp_path):
    x = pan()
    with pytest.raises(ValueError, match="int32"):
        colorizer.colorize(x.astype(np.int32))
    with pytest.raises(ValueError, match="2 bands"):
        colorizer.colorize(np.stack([x, x]))
    with pytest.raises(ValueError, match="shape"):
        colorizer.colorize(x[None, None])
    with pytest.raises(ValueError, match="numpy array"):
        colorizer.colorize([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="mask"):
        colorizer.colorize(x, mask=np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="mask"):
        colorizer.colorize(x, mask=np.ones(x.shape, dtype=np.uint8))
    with pytest.raises(ValueError, match="empty"):
        colorizer.colorize(np.zeros((0, 5), dtype=np.uint16))
    with pytest.raises(OSError):
        satcolor.Colorizer(tmp_path / "missing.safetensors", device="cpu")
    with pytest.raises(ValueError, match="unknown device"):
        satcolor.Colorizer(MODEL, device="tpu")
    with pytest.raises(ValueError, match="precision|fp9"):
        satcolor.Colorizer(MODEL, device="cpu", precision="fp9")
    with pytest.raises(ValueError, match="overlap"):
        satcolor.Colorizer(MODEL, device="cpu", overlap=32)
    with pytest.raises(ValueError, match="safetensors"):
        satcolor.Colorizer.from_bytes(b"junk" * 10, device="cpu")
    # An array larger than the memory budget: an error before anything is allocated.
    code = (
        "import numpy as np, satcolor\n"
        f"c = satcolor.Colorizer({str(MODEL)!r}, device='cpu')\n"
        "try:\n"
        "    c.colorize(np.zeros((3000, 3000), dtype=np.uint16))\n"
        "except ValueError as e:\n"
        "    print(e)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "SATCOLOR_MEMORY_BUDGET": "64M"},
    )
    assert "colorizing 3000x3000 pixels needs" in run.stdout, run.stdout + run.stderr
    c = satcolor.Colorizer.from_bytes(MODEL.read_bytes(), device="cpu", batch=3)
    np.testing.assert_array_equal(c.colorize(x, nodata=0), colorizer.colorize(x, nodata=0))


def test_threads_run_in_parallel_with_the_gil_released():
    inputs = [pan(70, 66, seed) for seed in range(3)]
    sequential = [satcolor.Colorizer(MODEL, device="cpu").colorize(x) for x in inputs]
    results = [None] * 3

    def work(i):
        results[i] = satcolor.Colorizer(MODEL, device="cpu").colorize(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, sequential):
        np.testing.assert_array_equal(got, want)

    # While one long colorize runs, Python code in this thread keeps running: the GIL is
    # released. (Were it held, this loop would run only until the worker took the GIL and
    # again after colorize returned: a switch interval or two, 5 ms each, of a run of
    # about a second.)
    def spin_rate():
        start, spins = time.perf_counter(), 0
        while time.perf_counter() - start < 0.2:
            spins += 1
        return spins / 0.2

    rate = spin_rate()
    big = pan(1500, 1000)
    c = satcolor.Colorizer(MODEL, device="cpu")
    done = threading.Event()
    t = threading.Thread(target=lambda: (c.colorize(big), done.set()))
    start, spins = time.perf_counter(), 0
    t.start()
    while not done.is_set():
        time.perf_counter()
        spins += 1
    elapsed = time.perf_counter() - start
    t.join()
    assert elapsed > 0.2, elapsed
    # The colorize threads share the 2 cores with this loop: a fraction of its rate alone.
    assert spins > 0.1 * rate * elapsed, (spins, rate, elapsed)


def test_rasterio_example_keeps_georeferencing(tmp_path):
    x = pan(150, 130)
    src = tmp_path / "pan.tif"
    write_pan(src, x)
    whole = satcolor.Colorizer(MODEL, device="cpu").colorize(x, nodata=0)
    for block in (1024, 40):
        out = tmp_path / f"rgb-{block}.tif"
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "python" / "colorize_geotiff.py"),
             str(MODEL), str(src), str(out), "--device", "cpu", "--block", str(block)],
            check=True, capture_output=True,
        )
        with rasterio.open(out) as ds:
            assert ds.crs.to_string() == CRS
            assert ds.transform == TRANSFORM
            assert ds.nodata == 0 and ds.count == 3 and ds.dtypes[0] == "uint16"
            assert [ds.descriptions[b] for b in range(3)] == ["red", "green", "blue"]
            got = ds.read()
        assert ((got == 0) == (x == 0)[None]).all()
        if block == 1024:
            # One block: exactly the whole-raster colorization.
            np.testing.assert_array_equal(got, whole)
        else:
            # Blocks of 40 rows with a one-window margin: the tiles fall elsewhere than in
            # the whole-raster run, so values differ by blending alone.
            diff = np.abs(got.astype(np.int32) - whole.astype(np.int32))
            assert np.median(diff) <= 1 and diff.max() <= 60, (np.median(diff), diff.max())
    assert not list(tmp_path.glob(".*part"))
