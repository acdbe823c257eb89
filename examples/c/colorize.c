/*
 * Colorizes a raw buffer with satcolor's C API: reads WIDTH x HEIGHT samples of the model's
 * input type (band-major, native byte order), colorizes them and writes the model's output
 * bands, band-major, of its output type.
 *
 *   cc examples/c/colorize.c -Icapi/include -Ltarget/release -lsatcolor_c -o colorize
 *   LD_LIBRARY_PATH=target/release ./colorize MODEL IN.raw WIDTH HEIGHT OUT.raw [DEVICE [NODATA]]
 *
 * DEVICE defaults to auto (the first CUDA GPU, else the CPU); NODATA, when given, is the
 * input value that marks missing pixels.
 */
#include <stdio.h>
#include <stdlib.h>

#include "satcolor.h"

/* Bytes per sample of a SATCOLOR_TYPE_* code. */
static size_t sample_size(uint32_t type) {
    switch (type) {
    case SATCOLOR_TYPE_U8: return 1;
    case SATCOLOR_TYPE_U16: return 2;
    case SATCOLOR_TYPE_I16: return 2;
    case SATCOLOR_TYPE_F32: return 4;
    default: return 0;
    }
}

/* Prints what failed and satcolor's message. */
static int fail(const char *what) {
    fprintf(stderr, "colorize: %s: %s\n", what, satcolor_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 6 || argc > 8) {
        fprintf(stderr, "usage: %s MODEL IN.raw WIDTH HEIGHT OUT.raw [DEVICE [NODATA]]\n", argv[0]);
        return 2;
    }
    const char *model = argv[1], *in_path = argv[2], *out_path = argv[5];
    size_t width = strtoul(argv[3], NULL, 10), height = strtoul(argv[4], NULL, 10);
    SatcolorOptions options = {argc > 6 ? argv[6] : "auto", NULL, 0, -1};
    double nodata = argc > 7 ? strtod(argv[7], NULL) : 0.0;

    SatcolorColorizer *colorizer = NULL;
    if (satcolor_open(model, &options, &colorizer) != SATCOLOR_STATUS_OK)
        return fail(model);
    SatcolorInfo info;
    char device[128];
    if (satcolor_info(colorizer, &info) != SATCOLOR_STATUS_OK ||
        satcolor_device_name(colorizer, device, sizeof device) != SATCOLOR_STATUS_OK) {
        satcolor_close(colorizer);
        return fail("info");
    }

    int rc = 1;
    size_t in_len = width * height * info.in_bands, out_len = width * height * info.out_bands;
    size_t in_size = sample_size(info.input_type), out_size = sample_size(info.output_type);
    void *input = malloc(in_len * in_size), *output = malloc(out_len * out_size);
    FILE *f = NULL;
    if (!input || !output) {
        fprintf(stderr, "colorize: out of memory\n");
        goto done;
    }
    f = fopen(in_path, "rb");
    if (!f || fread(input, in_size, in_len, f) != in_len) {
        fprintf(stderr, "colorize: %s: expected %zu samples of %zu bytes\n", in_path, in_len, in_size);
        goto done;
    }
    fclose(f);
    f = NULL;

    /* Planar (band-major) arrays: strides of a band, a row and a column in elements. */
    SatcolorImage in = {input, in_len, info.input_type, width, height, info.in_bands,
                        width * height, width, 1};
    SatcolorImageMut out = {output, out_len, info.output_type, width, height, info.out_bands,
                            width * height, width, 1};
    if (satcolor_colorize(colorizer, &in, NULL, argc > 7 ? &nodata : NULL, &out) != SATCOLOR_STATUS_OK) {
        fail("colorize");
        goto done;
    }
    f = fopen(out_path, "wb");
    if (!f || fwrite(output, out_size, out_len, f) != out_len || fclose(f) != 0) {
        fprintf(stderr, "colorize: cannot write %s\n", out_path);
        f = NULL;
        goto done;
    }
    f = NULL;
    printf("colorized %zux%zu pixels into %zu bands on %s (satcolor %s)\n", width, height,
           info.out_bands, device, satcolor_version());
    rc = 0;
done:
    if (f)
        fclose(f);
    free(input);
    free(output);
    satcolor_close(colorizer);
    return rc;
}
