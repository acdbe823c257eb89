// 2x2 max pooling with stride 2 (a trailing odd row or column is dropped), NCHW f32.
// Ties go to the first maximum of the window in row-major order; the backward pass
// recomputes that argmax from x instead of keeping an index buffer.
#include "common.cuh"
#include "half.cuh"

// y[nc, oy, ox] = max of x[nc, 2oy..2oy+1, 2ox..2ox+1] (nc = image * channels + channel),
// the window's values compared as floats and the first maximum's element copied. T: float,
// or unsigned short for 16-bit storage of format fmt (kernels/half.cuh).
// Mapping: 1-D grid-stride loop, one thread per output element; no shared memory.
template <class T>
static __device__ __forceinline__ void max_pool2d_forward_body(const T* __restrict__ x, T* __restrict__ y, int planes, int h, int wd, int fmt)
{
    const int h_out = h / 2;
    const int w_out = wd / 2;
    const int total = planes * h_out * w_out;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        const int ox = e % w_out;
        const int oy = (e / w_out) % h_out;
        const int nc = e / (w_out * h_out);
        const T* p = x + ((size_t)nc * h + 2 * oy) * wd + 2 * ox;
        const float v[4] = {sc_ld(p, fmt), sc_ld(p + 1, fmt), sc_ld(p + wd, fmt), sc_ld(p + wd + 1, fmt)};
        const int best = sc_window_argmax(v, 2);
        y[e] = p[(best >> 1) * wd + (best & 1)];
    }
}

// 2x2 max pooling (max_pool2d_forward_body) of f32 tensors.
extern "C" __global__ void max_pool2d_forward(const float* __restrict__ x, float* __restrict__ y, int planes, int h, int wd)
{
    max_pool2d_forward_body(x, y, planes, h, wd, 0);
}

// 2x2 max pooling (max_pool2d_forward_body) of 16-bit tensors of format fmt.
extern "C" __global__ void max_pool2d_forward_h16(const unsigned short* __restrict__ x, unsigned short* __restrict__ y, int planes, int h, int wd, int fmt)
{
    max_pool2d_forward_body(x, y, planes, h, wd, fmt);
}

// The sum of the slices partial sums dy[z*len + at], z = 0, 1, ... in order from 0 as
// sum_slices adds them. Four loads in flight a step, written out (a compiler-unrolled loop
// sets up its remainder in the loop around it, code every one-slice thread would pass).
static __device__ __forceinline__ float sc_pool_grad_slices(const float* __restrict__ dy, int at, int len, int slices)
{
    float g = 0.0f;
    int z = 0;
#pragma unroll 1
    for (; z + 4 <= slices; z += 4) {
        const float* p = dy + z * len + at;
        const float a = p[0], b = p[len], c = p[2 * len], d = p[3 * len];
        g += a;
        g += b;
        g += c;
        g += d;
    }
#pragma unroll 1
    for (; z < slices; ++z) g += dy[z * len + at];
    return g;
}

// dx[nc, iy, ix] = dy[nc, iy/2, ix/2] * act'(x[nc, iy, ix]) if (iy, ix) is the first maximum
// of its window, else 0 (also 0 in a dropped trailing row or column): the pooling's backward
// fused with that of the activation whose output x is (act = SC_ACT_IDENTITY: the pooling's
// alone). With accumulate, the routed gradient is added to dx's values first, and every
// element's sum is multiplied by act'(x) there: dx = (dx + routed) * act'(x), the same
// roundings as add_assign then act_backward.
// With slices > 1, dy is a convolution's split-K partial sums (slices of planes * h/2 *
// w/2 values, the input gradient of the convolution that reads the pooled map) and each
// window's gradient their sum, added in order z = 0, 1, ... as sum_slices adds them: the
// same bits as sum_slices then this pass. The launch code bounds slices * len(dy) by INT_MAX.
// Mapping: 1-D grid-stride loop, one thread per 2 x 2 block of dx (blocks of a trailing odd
// row or column clipped), so every element is written exactly once, without atomics; a
// block that is a pooling window reads its 4 inputs and its dy once. No shared memory.
extern "C" __global__ void __launch_bounds__(256, 8) max_pool2d_backward(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx, int planes, int h, int wd, int act, float slope, int accumulate, int slices)
{
    const int h_out = h / 2;
    const int w_out = wd / 2;
    const int hb = (h + 1) / 2;
    const int wb = (wd + 1) / 2;
    const int total = planes * hb * wb;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        const int bx = e % wb;
        const int by = (e / wb) % hb;
        const int nc = e / (wb * hb);
        const size_t corner = ((size_t)nc * h + 2 * by) * wd + 2 * bx;
        const float* p = x + corner;
        float g = 0.0f;
        int best = 0;
        if (by < h_out && bx < w_out) {
            best = sc_window_argmax(p, wd);
            const int at = (nc * h_out + by) * w_out + bx;
            g = slices > 1 ? sc_pool_grad_slices(dy, at, planes * h_out * w_out, slices) : dy[at];
            if (!accumulate) g *= sc_act_grad(p[(best >> 1) * wd + (best & 1)], act, slope);
        }
        float* d = dx + corner;
        const bool right = 2 * bx + 1 < wd;
        const bool down = 2 * by + 1 < h;
        if (accumulate) {
            d[0] = (d[0] + (best == 0 ? g : 0.0f)) * sc_act_grad(p[0], act, slope);
            if (right) d[1] = (d[1] + (best == 1 ? g : 0.0f)) * sc_act_grad(p[1], act, slope);
            if (down) d[wd] = (d[wd] + (best == 2 ? g : 0.0f)) * sc_act_grad(p[wd], act, slope);
            if (down && right) d[wd + 1] = (d[wd + 1] + (best == 3 ? g : 0.0f)) * sc_act_grad(p[wd + 1], act, slope);
        } else {
            d[0] = best == 0 ? g : 0.0f;
            if (right) d[1] = best == 1 ? g : 0.0f;
            if (down) {
                d[wd] = best == 2 ? g : 0.0f;
                if (right) d[wd + 1] = best == 3 ? g : 0.0f;
            }
        }
    }
}
