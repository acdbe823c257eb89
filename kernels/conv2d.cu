// 2-D convolution (cross-correlation, PyTorch's conv2d), NCHW f32.
//
// conv2d_forward also computes the input gradient of a transposed convolution (which is a
// plain convolution of dy with the transposed convolution's [c_in, c_out, k, k] weight);
// conv2d_weight_grad computes the weight gradient of both convolutions.
#include "common.cuh"

// Output tile side of conv2d_forward (the block is SC_CONV_TILE x SC_CONV_TILE threads).
#define SC_CONV_TILE 16
// Output channels computed by each thread of conv2d_forward.
#define SC_CONV_COB 8
// Shared-memory banks (4-byte words each) of every arch satcolor compiles.
#define SC_SHARED_BANKS 32

// Row pitch of conv2d_forward_v2's staged patch of side x side floats: at stride 1 the
// least pitch >= side that is 16 (mod 32), so that rows ty and ty + 1 of a warp (16
// threads each, 16 consecutive floats) fall in disjoint banks; at other strides a
// half-warp's stride-s reads conflict whatever the pitch, which stays side.
static __device__ inline int sc_conv_pitch(int side, int stride)
{
    const int half = SC_SHARED_BANKS / 2;
    return stride == 1 ? side + (SC_SHARED_BANKS + half - side % SC_SHARED_BANKS) % SC_SHARED_BANKS : side;
}

// y[n, o, oy, ox] = act(bias[o] + sum_{i, kh, kw} x[n, i, oy*stride - pad + kh,
// ox*stride - pad + kw] * w[o, i, kh, kw]), zero padding; w is [c_out, c_in, k, k].
//
// Mapping: block (16, 16) = one 16x16 tile of output pixels (thread (tx, ty) -> pixel
// (oy0 + ty, ox0 + tx)) for 8 consecutive output channels, each thread keeping the 8 sums
// in registers; grid.x = tiles_y * tiles_x (row-major tiles), grid.y = ceil(c_out / 8),
// grid.z = n.
// Shared (dynamic): for each input channel in turn the block stages the input patch the
// tile reads, side = (16 - 1)*stride + k rows of side floats zero-padded at the borders,
// and the 8 x k x k weights of that channel, between two barriers.
// Each output is summed in the fixed order (i, kh, kw), so results do not depend on the
// order threads or blocks run in.
//
// The body of both variants: `padded` selects the patch's row pitch (see sc_conv_pitch).
static __device__ __forceinline__ void conv2d_forward_body(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int has_bias, int act, float slope, bool padded)
{
    SATCOLOR_DYNAMIC_SHARED(float, smem);
    const int in_side = (SC_CONV_TILE - 1) * stride + k;
    const int pitch = padded ? sc_conv_pitch(in_side, stride) : in_side;
    const int kk = k * k;
    float* s_in = smem;
    float* s_w = smem + pitch * in_side;

    const int tiles_x = (w_out + SC_CONV_TILE - 1) / SC_CONV_TILE;
    const int ox0 = (blockIdx.x % tiles_x) * SC_CONV_TILE;
    const int oy0 = (blockIdx.x / tiles_x) * SC_CONV_TILE;
    const int co0 = blockIdx.y * SC_CONV_COB;
    const int img = blockIdx.z;
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const int tid = ty * SC_CONV_TILE + tx;
    const int nthreads = SC_CONV_TILE * SC_CONV_TILE;
    const int iy0 = oy0 * stride - pad;
    const int ix0 = ox0 * stride - pad;

    float acc[SC_CONV_COB];
#pragma unroll
    for (int j = 0; j < SC_CONV_COB; ++j) acc[j] = 0.0f;

    for (int ci = 0; ci < c_in; ++ci) {
        const float* xc = x + ((size_t)img * c_in + ci) * h * wd;
        for (int e = tid; e < in_side * in_side; e += nthreads) {
            const int gy = iy0 + e / in_side;
            const int gx = ix0 + e % in_side;
            s_in[(e / in_side) * pitch + e % in_side] = (gy >= 0 && gy < h && gx >= 0 && gx < wd) ? xc[(size_t)gy * wd + gx] : 0.0f;
        }
        for (int e = tid; e < SC_CONV_COB * kk; e += nthreads) {
            const int co = co0 + e / kk;
            s_w[e] = co < c_out ? w[((size_t)co * c_in + ci) * kk + e % kk] : 0.0f;
        }
        __syncthreads();
        const float* patch = s_in + ty * stride * pitch + tx * stride;
        for (int kh = 0; kh < k; ++kh) {
            for (int kw = 0; kw < k; ++kw) {
                const float v = patch[kh * pitch + kw];
                const int t = kh * k + kw;
#pragma unroll
                for (int j = 0; j < SC_CONV_COB; ++j) acc[j] += v * s_w[j * kk + t];
            }
        }
        __syncthreads();
    }

    const int oy = oy0 + ty;
    const int ox = ox0 + tx;
    if (oy < h_out && ox < w_out) {
#pragma unroll
        for (int j = 0; j < SC_CONV_COB; ++j) {
            const int co = co0 + j;
            if (co < c_out) {
                const float z = has_bias ? acc[j] + bias[co] : acc[j];
                y[(((size_t)img * c_out + co) * h_out + oy) * w_out + ox] = sc_act(z, act, slope);
            }
        }
    }
}

// Variant v1: the patch's rows are side floats apart. A warp is two 16-thread rows of the
// tile, whose patch loads are side*stride floats apart: with side = 24 or 18 (k = 9 or 3,
// stride 1) both halves hit 8 common banks, a 2-way conflict on every patch load.
extern "C" __global__ void conv2d_forward(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int has_bias, int act, float slope)
{
    conv2d_forward_body(x, w, bias, y, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, has_bias, act, slope, false);
}

// Variant v2: v1 with the patch's rows sc_conv_pitch(side, stride) floats apart, = 16
// (mod 32) at stride 1, so the two half-warps read disjoint banks (1 wavefront per patch
// load instead of 2); the same sums in the same order, so the same results bit for bit.
// Costs pitch*side instead of side^2 floats of shared memory. Same mapping and grid.
extern "C" __global__ void conv2d_forward_v2(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int has_bias, int act, float slope)
{
    conv2d_forward_body(x, w, bias, y, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, has_bias, act, slope, true);
}

// dw[o, i, kh, kw] = sum_{n, gy, gx} g[n, o, gy, gx] * x[n, i, gy*stride - pad + kh,
// gx*stride - pad + kw] (zero padding), dw laid out [c_o, c_i, k, k].
// For conv2d: g = dy [n, c_out, h_out, w_out], x = the input. For conv_transpose2d:
// g = its input [n, c_in, h, w], x = its dy, which gives PyTorch's [c_in, c_out, k, k].
//
// Mapping: one block of 256 threads per (o, i) pair: grid (c_i, c_o). The block walks the
// images and the 16x16 tiles of g's positions; for each it stages the g tile (256 floats)
// and the x patch it touches (((16 - 1)*stride + k)^2 floats, zero-padded) in dynamic
// shared memory between two barriers. Thread t owns tap (t mod taps) of the current chunk
// of at most 256 taps and position group t / taps (groups = 256 / taps), and sums that
// tap over its group's positions of the tile (p = group, group + groups, ...); tile sums
// are added to a running sum. At the end the groups' sums go through shared memory
// (256 floats) and the owner of each tap adds them in group order and writes dw, so every
// sum has a fixed order.
extern "C" __global__ void conv2d_weight_grad(const float* __restrict__ g, const float* __restrict__ x, float* __restrict__ dw, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad)
{
    SATCOLOR_DYNAMIC_SHARED(float, smem);
    const int nthreads = SC_CONV_TILE * SC_CONV_TILE;
    const int side = (SC_CONV_TILE - 1) * stride + k;
    float* s_g = smem;
    float* s_x = smem + nthreads;
    float* s_part = s_x + side * side;

    const int i = blockIdx.x;
    const int o = blockIdx.y;
    const int kk = k * k;
    const int tid = threadIdx.x;
    const int tiles_x = (gw + SC_CONV_TILE - 1) / SC_CONV_TILE;
    const int tiles = tiles_x * ((gh + SC_CONV_TILE - 1) / SC_CONV_TILE);

    for (int tap0 = 0; tap0 < kk; tap0 += nthreads) {
        const int taps = min(kk - tap0, nthreads);
        const int groups = nthreads / taps;
        const int group = tid / taps;
        const int tap = tap0 + tid % taps;
        const int kh = tap / k;
        const int kw = tap % k;
        float acc = 0.0f;
        for (int img = 0; img < n; ++img) {
            const float* gp = g + ((size_t)img * c_o + o) * gh * gw;
            const float* xp = x + ((size_t)img * c_i + i) * xh * xw;
            for (int t = 0; t < tiles; ++t) {
                const int gy0 = (t / tiles_x) * SC_CONV_TILE;
                const int gx0 = (t % tiles_x) * SC_CONV_TILE;
                const int gy = gy0 + tid / SC_CONV_TILE;
                const int gx = gx0 + tid % SC_CONV_TILE;
                s_g[tid] = (gy < gh && gx < gw) ? gp[(size_t)gy * gw + gx] : 0.0f;
                const int iy0 = gy0 * stride - pad;
                const int ix0 = gx0 * stride - pad;
                for (int e = tid; e < side * side; e += nthreads) {
                    const int iy = iy0 + e / side;
                    const int ix = ix0 + e % side;
                    s_x[e] = (iy >= 0 && iy < xh && ix >= 0 && ix < xw) ? xp[(size_t)iy * xw + ix] : 0.0f;
                }
                __syncthreads();
                if (group < groups) {
                    float tile_acc = 0.0f;
                    for (int p = group; p < nthreads; p += groups) {
                        const int ly = p / SC_CONV_TILE;
                        const int lx = p % SC_CONV_TILE;
                        tile_acc += s_g[p] * s_x[(ly * stride + kh) * side + lx * stride + kw];
                    }
                    acc += tile_acc;
                }
                __syncthreads();
            }
        }
        s_part[tid] = acc;
        __syncthreads();
        if (tid < taps) {
            float sum = 0.0f;
            for (int q = 0; q < groups; ++q) sum += s_part[q * taps + tid];
            dw[((size_t)o * c_i + i) * kk + tap0 + tid] = sum;
        }
        __syncthreads();
    }
}
