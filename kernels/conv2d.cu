// 2-D convolution (cross-correlation, PyTorch's conv2d), NCHW f32.
//
// conv2d_forward also computes the input gradient of a transposed convolution (which is a
// plain convolution of dy with the transposed convolution's [c_in, c_out, k, k] weight);
// conv2d_weight_grad computes the weight gradient of both convolutions.
#include "common.cuh"
#include "igemm.cuh"
#include "half.cuh"

// Where a split K's partial sums go: the f32 instances pass y itself, the 16-bit ones an
// FP32 `parts`.
static __device__ __forceinline__ float* sc_parts(float* y, float*) { return y; }
static __device__ __forceinline__ float* sc_parts(unsigned short*, float* parts) { return parts; }

// Stores output v at offset `off`: a raw partial sum (split K) into the split's slice p, a
// finished value into y. An f32 instance's p is y itself when K is whole, so it stores
// through p alone: one pointer live and one store (with two, 256x32_3xtf32 and
// 3x64_3xtf32 spill on sm_80); a 16-bit one rounds a finished value into y.
template <class T>
static __device__ __forceinline__ void sc_store_out(T* y, float* p, size_t off, float v, bool raw, int fmt)
{
    if constexpr (sizeof(T) == sizeof(float)) {
        p[off] = v;
    } else if (raw) {
        p[off] = v;
    } else {
        sc_st(y + off, v, fmt);
    }
}

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

// The masked epilogue of conv_igemm_body: y *= act'(mask) over one BM x BN tile of a
// launch with one parity class (rows m0 .. m0 + BM of M = n * plane pixels, channels n0 ..
// n0 + BN), read back after a barrier (other threads stored it), with act_backward's one
// rounding, so both give the same bits: an input gradient through the activation whose
// output `mask` is (the U-Net's ReLUs).
// Mapping: thread tid takes units u = tid, tid + 256, ... (channel, row; row fastest), so
// consecutive threads touch consecutive pixels of a channel.
template <int BM, int BN, class T>
static __device__ __noinline__ void sc_ig_mask(T* __restrict__ y, const T* __restrict__ mask, int m0, int rows, int n0, int c_out, int plane, int act, float slope, int fmt)
{
    __syncthreads();
#pragma unroll 1
    for (int u = threadIdx.x; u < BM * BN; u += SC_IG_THREADS) {
        const int m = m0 + u % BM;
        const int o = n0 + u / BM;
        if (m >= rows || o >= c_out) continue;
        const int img = m / plane;
        const size_t off = ((size_t)img * c_out + o) * plane + (m - img * plane);
        y[off] = sc_to<T>(sc_f32(y[off], fmt) * sc_act_grad(sc_f32(mask[off], fmt), act, slope), fmt);
    }
}

// The implicit-GEMM convolution (variant v3 of conv2d_forward, v2 of
// conv_transpose2d_forward): C[M x N] = A[M x K] * B[K x N] with the batch folded into M.
//
// transposed = 0, a correlation (conv2d forward; conv_transpose2d's input gradient):
//   y[img, o, oy, ox] = act(bias[o] + sum_{i, kh, kw} x[img, i, oy*stride - pad + kh,
//   ox*stride - pad + kw] * w[o, i, kh, kw]); M = n*h_out*w_out, N = c_out, K = c_in*k*k.
// transposed = 1, a transposed convolution (conv_transpose2d forward; conv2d's input
//   gradient): y[img, o, oy, ox] = act(bias[o] + sum over i, kh, kw with
//   oy + pad - kh = iy*stride, 0 <= iy < h (the same for x) of x[img, i, iy, ix] *
//   w[i, o, kh, kw]). Split by output parity: class (ry, rx) holds the pixels
//   oy = qy*stride + ry, ox = qx*stride + rx, which only the taps kh = kh0 + stride*jh
//   (kh0 = (ry + pad) mod stride) reach, from iy = qy + (ry + pad - kh0)/stride - jh:
//   M = n*hq*wq, K = c_in*(taps of the class), and no lane computes a dead tap.
// Row m = (img, qy, qx) of A holds the inputs pixel m reads for k = (i, tap); B[k][o] is
// the weight. k runs in the order (i, kh, kw).
// Split K: with gridDim.z = classes * splits, block z sums k in [s*k_chunk, (s + 1)*k_chunk)
// of class z / splits (s = z % splits). With one split it writes act(bias + sum) to y
// (v1's sums in v1's order: the same results bit for bit); with more, it writes the raw
// partial sum to y + s*len(y) (y is then a scratch of splits outputs) and sum_slices
// (kernels/reduce.cu) adds the splits in order and applies bias and activation.
// Masked (mask_act != 0, only with one split and one class): the finished y is then
// multiplied by act'(mask) (sc_ig_mask), an input gradient through an activation; else
// mask is a stand-in, not read.
// Two inputs (the U-Net decoder's convolution of concat(up, skip), without the concat):
// cat_in != 0 reads input channels 0 .. cat_in from x and cat_in .. c_in = 2 cat_in from
// x2 (each [n, cat_in, h, wd]); else x2 is a stand-in, not read. (An output in two halves
// is conv_patch_body's alone: any choice of output pointer or channel origin in this
// epilogue made ptxas duplicate it, 3016 -> 6648 SASS instructions on sm_90.)
//
// Mapping: 256 threads, a BM x BN tile (kernels/igemm.cuh); grid.x = tiles of BM rows of
// the largest class, grid.y = tiles of BN output channels. Staging: thread t stages k-row
// t % 8 of each step for A's pixels m0 + t / 8 + 32*j and B's channels n0 + t / 8 + 32*j,
// so one (tap, channel) counter per thread serves all its loads (consecutive threads:
// 8 consecutive taps of 4 consecutive pixels).
// Dynamic shared memory: the class's taps, an int4 each (dy, dx, dy*wd + dx, weight offset).
// Storage: T = float, or unsigned short for 16-bit x, w, bias and y of format fmt
// (kernels/half.cuh; the raw partial sums of split K stay FP32, in `parts`, which the f32
// instances pass as y).
template <int BM, int BN, int TM, int P, class T>
static __device__ __forceinline__ void conv_igemm_body(const T* __restrict__ x, const T* __restrict__ x2, const T* __restrict__ w, const T* __restrict__ bias, const T* __restrict__ mask, T* __restrict__ y, float* parts, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope, int fmt)
{
    constexpr int PASS = SC_IG_THREADS / SC_IG_BK;  // pixels or channels per staging pass
    constexpr int EA = BM / PASS;                    // A loads per thread and step
    constexpr int EB = (BN + PASS - 1) / PASS;       // B loads per thread and step
    __shared__ __align__(16) sc_ig_stage<BM, P> s_a;
    __shared__ __align__(16) sc_ig_stage<BN, P> s_b;
    SATCOLOR_DYNAMIC_SHARED(int4, s_tap);
    const int tid = threadIdx.x;

    // The parity class and the split of K.
    const int classes = transposed ? stride * stride : 1;
    const int splits = gridDim.z / classes;
    const int cls = blockIdx.z / splits;
    const int split = blockIdx.z % splits;
    const int step = transposed ? stride : 1;
    const int ry = cls / step;
    const int rx = cls % step;
    const int kh0 = (ry + pad) % step;
    const int kw0 = (rx + pad) % step;
    const int njh = kh0 < k ? (k - kh0 + step - 1) / step : 0;
    const int njw = kw0 < k ? (k - kw0 + step - 1) / step : 0;
    const int hq = h_out > ry ? (h_out - ry + step - 1) / step : 0;
    const int wq = w_out > rx ? (w_out - rx + step - 1) / step : 0;
    const int taps = njh * njw;
    const int plane_q = hq * wq;
    const int rows = n * plane_q;
    const int m0 = blockIdx.x * BM;
    const int n0 = blockIdx.y * BN;
    if (m0 >= rows) return;  // a smaller class than the grid's largest: the whole block
    const int k_begin = split * k_chunk;
    const int k_end = min(c_in * taps, k_begin + k_chunk);

    // Weight strides: w[o, i, kh, kw] (correlation) or w[i, o, kh, kw] (transposed).
    // Offsets are int: the launch code bounds every buffer's length by INT_MAX.
    const int kk = k * k;
    const int w_o = transposed ? kk : c_in * kk;
    const int w_i = transposed ? c_out * kk : kk;
    const int plane_in = h * wd;
    // Channels per image of x (and x2): half of c_in when the input is split in two.
    const int c_img_in = cat_in ? cat_in : c_in;
    // The tap table: (dy, dx, dy*wd + dx, weight offset) of each tap of the class.
    for (int t = tid; t < taps; t += SC_IG_THREADS) {
        const int jh = t / njw;
        const int jw = t % njw;
        const int dy = transposed ? -jh : jh;
        const int dx = transposed ? -jw : jw;
        s_tap[t] = make_int4(dy, dx, dy * wd + dx, (kh0 + step * jh) * k + kw0 + step * jw);
    }

    // Staging: this thread's k-row r of each step, for A's pixels m0 + p + 32*j (j < EA)
    // and B's output channels n0 + p + 32*j (j < EB), p = tid / 8. A pixel outside the
    // rows has its row base far below 0, so its bounds check fails.
    const int r = tid % SC_IG_BK;
    const int p = tid / SC_IG_BK;
    int iy_base[EA], ix_base[EA], x_pix[EA];
#pragma unroll
    for (int e = 0; e < EA; ++e) {
        const int m = m0 + p + e * PASS;
        const bool m_ok = m < rows;
        const int img = m_ok ? m / plane_q : 0;
        const int qy = m_ok ? (m - img * plane_q) / wq : 0;
        const int qx = m_ok ? m - img * plane_q - qy * wq : 0;
        const int iy = transposed ? qy + (ry + pad - kh0) / stride : qy * stride - pad;
        ix_base[e] = transposed ? qx + (rx + pad - kw0) / stride : qx * stride - pad;
        iy_base[e] = m_ok ? iy : -(1 << 30);
        x_pix[e] = img * c_img_in * plane_in + iy * wd + ix_base[e];
    }

    // The k index of the k-row, its tap and its input channel's offsets into x (or x2, from
    // channel cat_in on: xs, and the channels left before the switch) and w, advanced by BK
    // per step; the tap table turns the tap into offsets.
    int kx = k_begin + r;
    int tap = taps ? kx % taps : 0;
    const int ch0 = taps ? kx / taps : 0;
    const bool second = cat_in && ch0 >= cat_in;
    const T* xs = second ? x2 : x;
    int ch_x = (second ? ch0 - cat_in : ch0) * plane_in;
    // (Counts down to 0 at channel cat_in; with one input from c_in + 1, which it never
    // reaches: one code path for both, no version of the loop per case.)
    int to_x2 = (cat_in ? cat_in : c_in + 1) - ch0;
    int ch_w = ch0 * w_i;

    float ra[EA], rb[EB];
    auto load = [&]() {
        const bool k_ok = kx < k_end;
        const int4 t = s_tap[tap];
#pragma unroll
        for (int e = 0; e < EA; ++e) {
            const bool in = k_ok && (unsigned)(iy_base[e] + t.x) < (unsigned)h && (unsigned)(ix_base[e] + t.y) < (unsigned)wd;
            ra[e] = in ? sc_ld(xs + (x_pix[e] + ch_x + t.z), fmt) : 0.0f;
        }
#pragma unroll
        for (int e = 0; e < EB; ++e) {
            const int col = p + e * PASS;
            const int o = n0 + col;
            rb[e] = k_ok && col < BN && o < c_out ? sc_ld(w + (o * w_o + ch_w + t.w), fmt) : 0.0f;
        }
    };
    auto advance = [&]() {
        kx += SC_IG_BK;
        tap += SC_IG_BK;
        while (tap >= taps) {
            tap -= taps;
            ch_x += plane_in;
            ch_w += w_i;
            if (--to_x2 == 0) {
                xs = x2;
                ch_x = 0;
            }
        }
    };
    auto store = [&](int buf) {
#pragma unroll
        for (int e = 0; e < EA; ++e) s_a.v[buf][r][p + e * PASS] = sc_ig_prep<P>(ra[e]);
#pragma unroll
        for (int e = 0; e < EB; ++e) {
            const int col = p + e * PASS;
            if (col < BN) s_b.v[buf][r][col] = sc_ig_prep<P>(rb[e]);
        }
    };

    sc_ig_frag<BM, BN, TM, P> acc;
    __syncthreads();  // the tap table
    sc_ig_main_loop<BM, BN, TM, P>(k_end - k_begin, s_a, s_b, acc, load, store, advance);

    // Epilogue: NCHW stores, with bias and activation unless K is split.
    const size_t plane_out = (size_t)h_out * w_out;
    float* p_split = sc_parts(y, parts) + (size_t)split * n * c_out * plane_out;
#pragma unroll
    for (int i = 0; i < acc.R; ++i) {
        const int mi = m0 + acc.row(i);
        if (mi >= rows) continue;
        const int im = mi / plane_q;
        const int py = (mi - im * plane_q) / wq;
        const int px = mi - im * plane_q - py * wq;
        const size_t px_off = (size_t)im * c_out * plane_out + (size_t)(py * step + ry) * w_out + px * step + rx;
#pragma unroll
        for (int j = 0; j < acc.C; ++j) {
            const int o = n0 + acc.col(j);
            if (o < c_out) {
                const float z = has_bias ? acc.v[i][j] + sc_ld(bias + o, fmt) : acc.v[i][j];
                const float v = splits > 1 ? acc.v[i][j] : sc_act(z, act, slope);
                sc_store_out(y, p_split, px_off + o * plane_out, v, splits > 1, fmt);
            }
        }
    }
    // (The launch code passes mask_act only with one split and one class.)
    if (mask_act != 0) sc_ig_mask<BM, BN>(y, mask, m0, rows, n0, c_out, plane_q, mask_act, slope, fmt);
}

// conv_igemm_body with 128 x 64 tiles, 8 x 4 per thread: more than 32 output channels on maps of at least 128 pixels.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_128X64) conv_igemm_128x64(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<128, 64, 8, SC_PREC_FP32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_body with 256 x 32 tiles, 8 x 4 per thread: 17 to 32 output channels (G's F = 32 layers).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X32) conv_igemm_256x32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<256, 32, 8, SC_PREC_FP32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_body with 256 x 16 tiles, 4 x 4 per thread: 5 to 16 output channels.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X16) conv_igemm_256x16(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<256, 16, 4, SC_PREC_FP32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_body with 256 x 4 tiles, 1 x 4 per thread: at most 4 output channels (G's 1- and 3-band outputs), in every precision (a tensor-core tile is 8 channels wide).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X4) conv_igemm_256x4(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<256, 4, 1, SC_PREC_FP32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_128x64 with TF32 tensor cores (warp tiles of 32 x 32).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_128X64) conv_igemm_128x64_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<128, 64, 8, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_256x32 with TF32 tensor cores (warp tiles of 32 x 32).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X32) conv_igemm_256x32_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<256, 32, 8, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_256x16 with TF32 tensor cores (warp tiles of 32 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X16) conv_igemm_256x16_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<256, 16, 4, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_128x64 with 3xTF32 tensor cores (warp tiles of 32 x 32).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_128X64) conv_igemm_128x64_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<128, 64, 8, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_256x32 with 3xTF32 tensor cores (warp tiles of 32 x 32).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X32) conv_igemm_256x32_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<256, 32, 8, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_256x16 with 3xTF32 tensor cores (warp tiles of 32 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X16) conv_igemm_256x16_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope)
{
    conv_igemm_body<256, 16, 4, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, y, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, 0);
}

// conv_igemm_128x64_tf32 on 16-bit storage (bf16 or fp16, `fmt`): inference at reduced precision.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_128X64) conv_igemm_128x64_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope, int fmt)
{
    conv_igemm_body<128, 64, 8, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, fmt);
}

// conv_igemm_256x32_tf32 on 16-bit storage (bf16 or fp16, `fmt`).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X32) conv_igemm_256x32_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope, int fmt)
{
    conv_igemm_body<256, 32, 8, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, fmt);
}

// conv_igemm_256x16_tf32 on 16-bit storage (bf16 or fp16, `fmt`).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X16) conv_igemm_256x16_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope, int fmt)
{
    conv_igemm_body<256, 16, 4, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, fmt);
}

// conv_igemm_256x4 on 16-bit storage (bf16 or fp16, `fmt`): FP32 FMAs, whose products of 16-bit values are exact as TF32's are.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_256X4) conv_igemm_256x4_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int n, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int transposed, int k_chunk, int has_bias, int act, int mask_act, int cat_in, float slope, int fmt)
{
    conv_igemm_body<256, 4, 1, SC_PREC_FP32, unsigned short>(x, x2, w, bias, mask, y, parts, n, c_in, h, wd, c_out, k, stride, pad, h_out, w_out, transposed, k_chunk, has_bias, act, mask_act, cat_in, slope, fmt);
}

// Output tile side of the patch-staged tensor-core convolution (conv_patch_*).
#define SC_PATCH_TILE 16
// Input channels per staged chunk of conv_patch_*: one mma k-step per tap.
#define SC_PATCH_CK 8
// Blocks per SM the conv_patch_* instances are compiled for (__launch_bounds__).
#define SC_PATCH_MIN_BLOCKS_9X32 2
#define SC_PATCH_MIN_BLOCKS_9X8 4
#define SC_PATCH_MIN_BLOCKS_3X64 2
#define SC_PATCH_MIN_BLOCKS_3X32 2
#define SC_PATCH_MIN_BLOCKS_3X16 4

// Geometry of conv_patch_body for kernel side K: the staged input patch is SIDE x SIDE per
// channel, channels CS floats apart (CS = 8 mod 32: a warp's A fragment loads, channels
// t and pixels g, hit 32 banks); PER_THREAD patch elements per thread.
template <int K>
struct sc_patch_geom {
    static constexpr int SIDE = SC_PATCH_TILE + K - 1;
    static constexpr int AREA = SIDE * SIDE;
    static constexpr int CS = AREA + (8 - AREA % 32 + 32) % 32;
    static constexpr int ELEMS = SC_PATCH_CK * AREA;
    static constexpr int PER_THREAD = (ELEMS + SC_IG_THREADS - 1) / SC_IG_THREADS;
};

// The pooled epilogue of conv_patch_body: p = maxpool2x2(y) over one output tile of BN
// channels (top-left (ty0, tx0), even) of one image, read back from the y the block has
// just written (a barrier first: another thread wrote it). y_img and p_img point at the
// image. The window's values are compared as floats (the first maximum, row-major, wins)
// and its element copied, as max_pool2d_forward does, so both give the same bits; windows
// of a dropped trailing row or column are skipped.
// Mapping: thread tid takes units u = tid, tid + 256, ... (channel, pooled row, pooled
// column; column fastest): 8 x 8 windows a channel.
template <int BN, class T>
static __device__ __noinline__ void sc_patch_pool(const T* __restrict__ y_img, T* __restrict__ p_img, int o0, int c_out, int ty0, int tx0, int h_out, int w_out, int fmt)
{
    constexpr int HALF = SC_PATCH_TILE / 2;
    const int hp = h_out / 2;
    const int wp = w_out / 2;
    __syncthreads();
#pragma unroll 1
    for (int u = threadIdx.x; u < BN * HALF * HALF; u += SC_IG_THREADS) {
        const int o = o0 + u / (HALF * HALF);
        const int py = ty0 / 2 + u / HALF % HALF;
        const int px = tx0 / 2 + u % HALF;
        if (o >= c_out || py >= hp || px >= wp) continue;
        const T* q = y_img + ((size_t)o * h_out + 2 * py) * w_out + 2 * px;
        const float v[4] = {sc_ld(q, fmt), sc_ld(q + 1, fmt), sc_ld(q + w_out, fmt), sc_ld(q + w_out + 1, fmt)};
        const int best = sc_window_argmax(v, 2);
        p_img[((size_t)o * hp + py) * wp + px] = q[(best >> 1) * w_out + (best & 1)];
    }
}

// The masked epilogue of conv_patch_body: y *= act'(mask) over one output tile of BN
// channels (top-left (ty0, tx0)) of one image, read back after a barrier, with
// act_backward's one rounding (the same bits): an input gradient through the activation
// whose output `mask` is. y_img and mask_img point at the image.
// Mapping: thread tid takes units u = tid, tid + 256, ... (channel, row, column; column
// fastest).
template <int BN, class T>
static __device__ __noinline__ void sc_patch_mask(T* __restrict__ y_img, const T* __restrict__ mask_img, int o0, int c_out, int ty0, int tx0, int h_out, int w_out, int act, float slope, int fmt)
{
    constexpr int AREA = SC_PATCH_TILE * SC_PATCH_TILE;
    __syncthreads();
#pragma unroll 1
    for (int u = threadIdx.x; u < BN * AREA; u += SC_IG_THREADS) {
        const int o = o0 + u / AREA;
        const int oy = ty0 + u % AREA / SC_PATCH_TILE;
        const int ox = tx0 + u % SC_PATCH_TILE;
        if (o >= c_out || oy >= h_out || ox >= w_out) continue;
        const size_t off = ((size_t)o * h_out + oy) * w_out + ox;
        y_img[off] = sc_to<T>(sc_f32(y_img[off], fmt) * sc_act_grad(sc_f32(mask_img[off], fmt), act, slope), fmt);
    }
}

// The fold of conv_patch_body's split K (the last block of a tile, after sc_fold_arrive):
// y = act(bias + the splits' partial sums of the tile, added in split order from 0), the
// order sum_slices adds them in, so both give the same bits. y_img points at the image of
// the output (or output half) holding the tile's channels, whose first is channel o_base;
// the slices at parts + img_off.
template <int BN, class T>
static __device__ __forceinline__ void sc_patch_fold(const float* __restrict__ parts, T* __restrict__ y_img, const T* __restrict__ bias, int o0, int o_base, int c_out, int ty0, int tx0, int h_out, int w_out, size_t img_off, size_t len, int splits, int has_bias, int act, float slope, int fmt)
{
    const int tid = threadIdx.x;
    const int plane_out = h_out * w_out;
    // Thread tid takes units u = tid, tid + 256, ... of the tile (channel, row, 4 or 1
    // columns: 128-bit loads of the FP32 slices when rows are whole quads, w_out % 4 == 0,
    // and the slices 16-byte aligned with them), so consecutive threads read consecutive
    // words of a row. A loop, not unrolled: short code, and the time model sees a loop
    // whose lines did not run when a launch does not fold (its loads and stores on lines of
    // its own: sc_f32 and sc_to rather than sc_ld and sc_st).
    const float* q_img = parts + img_off;
    const int per = w_out % 4 == 0 ? 4 : 1;
    constexpr int AREA = SC_PATCH_TILE * SC_PATCH_TILE;
#pragma unroll 1
    for (int u = tid; u < BN * AREA / per; u += SC_IG_THREADS) {
        const int e = u * per;
        const int o = o0 + e / AREA;
        const int oy = ty0 + e % AREA / SC_PATCH_TILE;
        const int ox = tx0 + e % SC_PATCH_TILE;
        if (o >= c_out || oy >= h_out || ox >= w_out) continue;
        const size_t off = (size_t)o * plane_out + oy * w_out + ox;
        float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (per == 4) {
#pragma unroll 1
            for (int z = 0; z < splits; ++z) {
                const float4 v = SC_LD_L2(reinterpret_cast<const float4*>(q_img + z * len + off));
                sum[0] += v.x;
                sum[1] += v.y;
                sum[2] += v.z;
                sum[3] += v.w;
            }
        } else {
#pragma unroll 1
            for (int z = 0; z < splits; ++z) sum[0] += SC_LD_L2(q_img + z * len + off);
        }
        const float b = has_bias ? sc_f32(bias[o], fmt) : 0.0f;
        T* out = y_img + (off - (size_t)o_base * plane_out);
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            if (c == per) break;
            out[c] = sc_to<T>(sc_act(has_bias ? sum[c] + b : sum[c], act, slope), fmt);
        }
    }
}

// The patch-staged tensor-core convolution (TF32 or 3xTF32; stride 1, kernel side K): a
// correlation y[img, o, oy, ox] = act(bias[o] + sum_{i, kh, kw} x[img, i, oy - pad + kh,
// ox - pad + kw] * W[o, i, kh, kw]) with W = w[o, i, kh, kw] (transposed = 0: conv2d forward,
// conv_transpose2d's input gradient) or W = w[i, o, K-1-kh, K-1-kw] (transposed = 1: a
// stride-1 conv_transpose2d forward or conv2d's input gradient, which the launch code passes
// with pad = K - 1 - its pad). Unlike conv_igemm_body, which gathers each (pixel, tap) pair
// from global memory, it stages each input value once: a tile's input patch for 8 channels
// at a time, from which every tap's A fragment is a shifted read (81 taps of a 9 x 9 kernel
// share one staged patch).
//
// Split K: with gridDim.z = n * splits, block z works on image z / splits and sums the
// chunks [s*k_chunk, (s + 1)*k_chunk) of 8 input channels (s = z % splits). With one split
// it writes act(bias + sum) to y (parts and tickets are not used); with more, the raw
// partial sum to parts + s*len(y) (parts is a scratch of splits outputs, FP32 in every
// storage). Then either sum_slices adds the splits in order (fold = 0, as the implicit
// GEMM's splits), or the kernel does (fold = 1): the last block of each output tile to
// finish (sc_fold_arrive, counter tickets[(img*gridDim.y + blockIdx.y)*gridDim.x +
// blockIdx.x], zero before and after the launch) adds the tile's slices in the same order,
// so both give the same results bit for bit.
//
// Masked (mask_act != 0, likewise only where the kernel finishes y): the block that
// finishes a tile then multiplies it by act'(mask) (sc_patch_mask: the U-Net's input
// gradients through its ReLUs); else mask is a stand-in, not read.
// Two halves (the U-Net decoder's concat(up, skip) without the concat): cat_in != 0 reads
// input channels 0 .. cat_in from x and the rest from x2 (each [n, cat_in, h, wd]); cat_out
// != 0 writes output channels 0 .. cat_out to y and the rest to y2 (each [n, cat_out, h_out,
// w_out]: the input gradient's two parts). The launch code passes cat_in a multiple of 8
// (a chunk lies in one input) and cat_out a multiple of BN (a block's channel tile lies in
// one output), and cat_out only where the kernel finishes y, with no pooling or mask (the
// partial sums keep the whole output's layout); else x2 and y2 are stand-ins.
// Pooled (pool = 1, only where the launch finishes y in the kernel: K whole or folded):
// the block that finishes a tile also writes its 2 x 2 max pooling into pooled
// [n, c_out, h_out/2, w_out/2] (sc_patch_pool: D's conv + LeakyReLU + pool, the U-Net
// encoder's block output and its pooled copy); else pooled is a stand-in, not written.
//
// Mapping: 256 threads = 8 warps; a block computes a 16 x 16 output tile (grid.x = tiles,
// row-major) of one image for BN output channels (grid.y). Warp w owns output rows
// 2w and 2w + 1, one 16 x 8 mma tile per row and 8 channels (lane 4g + t: pixels g and
// g + 8 of the row, channels 2t, 2t + 1 of each 8). K (the GEMM's depth) runs over chunks of
// 8 input channels, and in each chunk over kernel rows kh and taps kw: one step per (chunk,
// kh) stages the row's weights s_w[c][o][kw] (and, at kh = 0, the chunk's patch), then K
// taps of mma. Each thread's weight elements have fixed offsets (computed once), and the
// next step's weights are loaded into registers before the current step's mma; the patch
// is loaded straight into shared memory at the start of a chunk (its offsets computed on
// the way, to keep registers for the accumulators). Two barriers end each step. The sum
// order is fixed by the shape alone.
// Storage: T and fmt as conv_igemm_body's (the split partial sums in `parts`).
template <int K, int BN, int P, class T>
static __device__ __forceinline__ void conv_patch_body(const T* __restrict__ x, const T* __restrict__ x2, const T* __restrict__ w, const T* __restrict__ bias, const T* __restrict__ mask, T* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, T* __restrict__ pooled, T* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope, int fmt)
{
    using G = sc_patch_geom<K>;
    // Weights of a kernel row as s_w[c][o][kw]: K floats per output channel, WS per input
    // channel (WS = 8 mod 32). For K = 9 a warp's B fragment loads (channels t, outputs g:
    // 9g + 8t mod 32) hit 32 banks, and consecutive staging lanes (consecutive kw) write
    // consecutive words.
    constexpr int WS = BN * K + (8 - (BN * K) % 32 + 32) % 32;
    constexpr int NT = BN / 8;
    constexpr int WELEMS = K * SC_PATCH_CK * BN;
    constexpr int WPT = (WELEMS + SC_IG_THREADS - 1) / SC_IG_THREADS;
    constexpr int FAR = 1 << 30;  // a channel index that fails every bounds check
    __shared__ __align__(16) float s_x[SC_PATCH_CK * G::CS];
    __shared__ __align__(16) float s_w[SC_PATCH_CK * WS];
    if (k != K) __trap();  // the launch code picks the instance by k
    const int tid = threadIdx.x;
    const int lane = tid % 32;
    const int warp = tid / 32;
    const int g = lane / 4;
    const int t = lane % 4;
    const int tiles_x = (w_out + SC_PATCH_TILE - 1) / SC_PATCH_TILE;
    const int ty0 = (blockIdx.x / tiles_x) * SC_PATCH_TILE;
    const int tx0 = (blockIdx.x % tiles_x) * SC_PATCH_TILE;
    const int o0 = blockIdx.y * BN;
    const int plane = h * wd;
    const int splits = gridDim.z / n;
    const int img = blockIdx.z / splits;
    const int split = blockIdx.z % splits;
    // Channels of x (and x2) per image: half of c_in when the input is split in two (the
    // launch code passes a multiple of 8, so that a chunk lies in one of them).
    const int c_split = cat_in ? cat_in : c_in;

    // This thread's weight elements e = tid + 256 j of a kernel row: (o, c, kw) with kw
    // fastest, their offsets for chunk 0 and row 0, and c (FAR past the last output channel).
    const int kk = K * K;
    const int ch_stride = transposed ? c_out * kk : kk;  // from one input channel to the next
    int w_off[WPT], w_ch[WPT];
#pragma unroll
    for (int j = 0; j < WPT; ++j) {
        const int e = tid + j * SC_IG_THREADS;
        const int kw = e % K;
        const int c = (e / K) % SC_PATCH_CK;
        const int o = o0 + e / (K * SC_PATCH_CK);
        const bool in = e < WELEMS && o < c_out;
        w_off[j] = transposed ? c * ch_stride + o * kk + (K - 1 - kw) : o * c_in * kk + c * kk + kw;
        w_ch[j] = in ? c : FAR;
    }

    const int chunks = (c_in + SC_PATCH_CK - 1) / SC_PATCH_CK;
    const int first_chunk = split * k_chunk;
    const int steps = max(0, min(chunks, first_chunk + k_chunk) - first_chunk) * K;
    // The patch of the chunk of step s (kh = 0) straight into s_x: element e = tid + 256 j
    // is channel c0 + c, row r, column q of the patch.
    auto stage_patch = [&](int s) {
        const int c0 = (first_chunk + s / K) * SC_PATCH_CK;
        // The chunk's first channel in x or x2 (from the parameters each time: no image
        // pointer held across the main loop).
        const bool second = c0 >= c_split;
        const T* xc = (second ? x2 : x) + ((size_t)img * c_split + (second ? c0 - c_split : c0)) * plane;
#pragma unroll 2
        for (int e = tid; e < G::ELEMS; e += SC_IG_THREADS) {
            const int c = e / G::AREA;
            const int r = (e % G::AREA) / G::SIDE;
            const int iy = ty0 - pad + r;
            const int ix = tx0 - pad + e % G::SIDE;
            const bool in = c0 + c < c_in && (unsigned)iy < (unsigned)h && (unsigned)ix < (unsigned)wd;
            s_x[c * G::CS + e % G::AREA] = sc_ig_prep<P>(in ? sc_ld(xc + (c * plane + iy * wd + ix), fmt) : 0.0f);
        }
    };
    // The weights of step s's kernel row, into registers (issued before the current step's
    // mma) and then into s_w[c][o][kw].
    float rw[WPT];
    auto load_w = [&](int s) {
        const int c0 = (first_chunk + s / K) * SC_PATCH_CK;
        const int kh = s % K;
        const int lim = c_in - c0;
        const int row = c0 * ch_stride + (transposed ? K - 1 - kh : kh) * K;
#pragma unroll
        for (int j = 0; j < WPT; ++j) rw[j] = w_ch[j] < lim ? sc_ld(w + (row + w_off[j]), fmt) : 0.0f;
    };
    auto store_w = [&]() {
#pragma unroll
        for (int j = 0; j < WPT; ++j) {
            const int e = tid + j * SC_IG_THREADS;
            if (e < WELEMS) s_w[(e / K) % SC_PATCH_CK * WS + e / (K * SC_PATCH_CK) * K + e % K] = sc_ig_prep<P>(rw[j]);
        }
    };

    float acc[4][2 * NT];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
        for (int j = 0; j < 2 * NT; ++j) acc[i][j] = 0.0f;
    }
    if (steps > 0) {
        stage_patch(0);
        load_w(0);
        store_w();
    }
    __syncthreads();
    for (int s = 0; s < steps; ++s) {
        const bool more = s + 1 < steps;
        if (more) load_w(s + 1);
        const int kh = s % K;
        // Lane (g, t)'s A element (pixel g of its warp's first row, channel t) for kw = 0.
        const float* xa = s_x + t * G::CS + (2 * warp + kh) * G::SIDE + g;
        const float* wb = s_w + t * WS + g * K;
#pragma unroll 1
        for (int kw = 0; kw < K; ++kw) {
            float fa[2][4], fb[NT][2];
#pragma unroll
            for (int mt = 0; mt < 2; ++mt) {
                const float* p = xa + mt * G::SIDE + kw;
                fa[mt][0] = p[0];
                fa[mt][1] = p[8];
                fa[mt][2] = p[4 * G::CS];
                fa[mt][3] = p[4 * G::CS + 8];
            }
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) {
                const float* q = wb + kw + nt * 8 * K;
                fb[nt][0] = q[0];
                fb[nt][1] = q[4 * WS];
            }
            sc_mma_tiles<P, 2, NT>(acc, fa, fb);
        }
        if (more) {
            __syncthreads();
            if ((s + 1) % K == 0) stage_patch(s + 1);
            store_w();
        }
        __syncthreads();
    }

    // Epilogue: acc[2 mt + hf][2 nt + e] is pixel g + 8 hf of row 2 warp + mt, channel
    // nt*8 + 2t + e. With K whole, act(bias + sum) into y (channels cat_out on into y2 when
    // the output is split in two); split, the raw partial sum into the split's slice of
    // parts, in the whole output's layout (an f32 instance's finished values go through
    // the same pointer: one pointer live and one store).
    const int plane_out = h_out * w_out;
    const size_t len = (size_t)n * c_out * plane_out;
    const size_t img_off = (size_t)img * c_out * plane_out;
    const int c_img_out = cat_out ? cat_out : c_out;
    const size_t y_off = (size_t)img * c_img_out * plane_out;
    // The output (half) holding the tile's channels, and its first channel; the stores'
    // channel origin (the partial sums keep the whole layout).
    const bool second = cat_out && o0 >= cat_out;
    T* yt = second ? y2 : y;
    const int o_base = second ? cat_out : 0;
    const int o_rel = splits > 1 ? 0 : o_base;
    // (The channel origin in the base pointers, not in each store's index: a variable origin
    // there made ptxas duplicate the epilogue, 1568 -> 2944 SASS instructions on sm_90.)
    T* y_tile = yt + y_off - (long long)o_rel * plane_out;
    float* p_img = splits > 1 ? parts + split * len + img_off : sc_parts(y_tile, parts);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int oy = ty0 + 2 * warp + i / 2;
        const int ox = tx0 + g + 8 * (i % 2);
        if (oy >= h_out || ox >= w_out) continue;
#pragma unroll
        for (int j = 0; j < 2 * NT; ++j) {
            const int o = o0 + (j / 2) * 8 + 2 * t + j % 2;
            if (o < c_out) {
                const float z = has_bias ? acc[i][j] + sc_ld(bias + o, fmt) : acc[i][j];
                const float v = splits > 1 ? acc[i][j] : sc_act(z, act, slope);
                sc_store_out(y_tile, p_img, (size_t)o * plane_out + oy * w_out + ox, v, splits > 1, fmt);
            }
        }
    }
    // Fold: the last block of the tile adds the splits' partial sums in split order (as
    // sum_slices does: from 0, slice 0 first, then the bias), then the activation, into y.
    if (splits > 1) {
        if (!fold || !sc_fold_arrive(tickets + ((size_t)img * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x, splits)) return;
        sc_patch_fold<BN>(parts, yt + y_off, bias, o0, o_base, c_out, ty0, tx0, h_out, w_out, img_off, len, splits, has_bias, act, slope, fmt);
    }
    // The block that finished the tile: its pooling or its mask (the launch code passes
    // pool or mask_act only where the kernel finishes y, and never with cat_out).
    const size_t pool_off = (size_t)img * c_out * (h_out / 2) * (w_out / 2);
    if (pool) sc_patch_pool<BN>(y + img_off, pooled + pool_off, o0, c_out, ty0, tx0, h_out, w_out, fmt);
    if (mask_act != 0) sc_patch_mask<BN>(y + img_off, mask + img_off, o0, c_out, ty0, tx0, h_out, w_out, mask_act, slope, fmt);
}

// conv_patch_body with TF32 tensor cores: 9 x 9 kernels, 9 to 32 output channels per block tile (G's F = 32 layers).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_9X32) conv_patch_9x32_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<9, 32, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with TF32 tensor cores: 9 x 9 kernels, at most 8 output channels (G's 1- and 3-band outputs).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_9X8) conv_patch_9x8_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<9, 8, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with 3xTF32 tensor cores: 9 x 9 kernels, 9 to 32 output channels per block tile (G's F = 32 layers).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_9X32) conv_patch_9x32_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<9, 32, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with 3xTF32 tensor cores: 9 x 9 kernels, at most 8 output channels (G's 1- and 3-band outputs).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_9X8) conv_patch_9x8_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<9, 8, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with TF32 tensor cores: 3 x 3 kernels, 64 output channels per block tile (on maps of at least 16 x 16, where such tiles fill the GPU).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X64) conv_patch_3x64_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<3, 64, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with TF32 tensor cores: 3 x 3 kernels, 32 output channels per block tile (on maps of at least 16 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X32) conv_patch_3x32_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<3, 32, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with TF32 tensor cores: 3 x 3 kernels, 16 output channels per block tile (on maps of at least 16 x 16; D's and the U-Net's layers whose wider tiles would leave SMs idle).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X16) conv_patch_3x16_tf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<3, 16, SC_PREC_TF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with 3xTF32 tensor cores: 3 x 3 kernels, 64 output channels per block tile (D's convolutions on maps of at least 16 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X64) conv_patch_3x64_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<3, 64, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with 3xTF32 tensor cores: 3 x 3 kernels, 32 output channels per block tile.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X32) conv_patch_3x32_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<3, 32, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_body with 3xTF32 tensor cores: 3 x 3 kernels, 16 output channels per block tile.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X16) conv_patch_3x16_3xtf32(const float* __restrict__ x, const float* __restrict__ x2, const float* __restrict__ w, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, float* __restrict__ pooled, float* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope)
{
    conv_patch_body<3, 16, SC_PREC_3XTF32, float>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, 0);
}

// conv_patch_9x32_tf32 on 16-bit storage (bf16 or fp16, `fmt`): inference at reduced precision.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_9X32) conv_patch_9x32_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, unsigned short* __restrict__ pooled, unsigned short* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope, int fmt)
{
    conv_patch_body<9, 32, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, fmt);
}

// conv_patch_9x8_tf32 on 16-bit storage (bf16 or fp16, `fmt`): inference at reduced precision.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_9X8) conv_patch_9x8_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, unsigned short* __restrict__ pooled, unsigned short* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope, int fmt)
{
    conv_patch_body<9, 8, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, fmt);
}

// conv_patch_3x64_tf32 on 16-bit storage (bf16 or fp16, `fmt`): inference at reduced precision.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X64) conv_patch_3x64_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, unsigned short* __restrict__ pooled, unsigned short* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope, int fmt)
{
    conv_patch_body<3, 64, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, fmt);
}

// conv_patch_3x32_tf32 on 16-bit storage (bf16 or fp16, `fmt`): inference at reduced precision.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X32) conv_patch_3x32_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, unsigned short* __restrict__ pooled, unsigned short* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope, int fmt)
{
    conv_patch_body<3, 32, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, fmt);
}

// conv_patch_3x16_tf32 on 16-bit storage (bf16 or fp16, `fmt`): inference at reduced precision.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_PATCH_MIN_BLOCKS_3X16) conv_patch_3x16_h16(const unsigned short* __restrict__ x, const unsigned short* __restrict__ x2, const unsigned short* __restrict__ w, const unsigned short* __restrict__ bias, const unsigned short* __restrict__ mask, unsigned short* __restrict__ y, float* __restrict__ parts, int* __restrict__ tickets, unsigned short* __restrict__ pooled, unsigned short* __restrict__ y2, int n, int c_in, int h, int wd, int c_out, int k, int pad, int h_out, int w_out, int transposed, int k_chunk, int fold, int pool, int has_bias, int act, int mask_act, int cat_in, int cat_out, float slope, int fmt)
{
    conv_patch_body<3, 16, SC_PREC_TF32, unsigned short>(x, x2, w, bias, mask, y, parts, tickets, pooled, y2, n, c_in, h, wd, c_out, k, pad, h_out, w_out, transposed, k_chunk, fold, pool, has_bias, act, mask_act, cat_in, cat_out, slope, fmt);
}

// The implicit-GEMM weight gradient (variant v2 of conv2d_weight_grad), split over K:
// dw[o, i, kh, kw] = sum_{img, gy, gx} g[img, o, gy, gx] * x[img, i, gy*stride - pad + kh,
// gx*stride - pad + kw] (zero padding), the GEMM C[M x N] = A[M x K] * B[K x N] with
// M = c_o, N = c_i*k*k, K = n*gh*gw (A = g, B = the x gather); the roles of g and x as in
// conv2d_weight_grad.
// Split K: block z of grid.z sums k in [z*k_chunk, min((z + 1)*k_chunk, K)) in increasing
// order and writes its partial C to out[z, o, (i, kh, kw)]; with one split that is dw
// itself, else sum_slices (kernels/reduce.cu) adds the splits in order z = 0, 1, ... So
// the result depends on the shape only, never on scheduling (no atomics).
// Two halves (cat_in != 0): input channels cat_in on of x are read from x2, both
// [n, cat_in, xh, xw] (the U-Net decoder's concat(up, skip)); else x2 is a stand-in.
// With has_db the bias gradient comes out of the same pass: db[z, o] = sum of g[img, o, gy,
// gx] over split z's positions, in FP32 from the values the block stages as A (before any
// TF32 rounding), by the blocks of column tile 0; sum_slices_pair adds the splits of dw
// and db in one launch.
//
// Mapping: 256 threads, a BM x BN tile (kernels/igemm.cuh); grid.x = tiles of BM output
// channels o, grid.y = tiles of BN columns (i, kh, kw), grid.z = splits. Staging: thread t
// handles k-row t % 8 (consecutive threads, consecutive positions gx) of A rows
// m0 + t / 8 + 32*j and B columns n0 + t / 8 + 32*j; the position (img, gy, gx) of its
// k-row advances by BK per step.
template <int BM, int BN, int TM, int P>
static __device__ __forceinline__ void conv_wgrad_igemm_body(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    constexpr int PASS = SC_IG_THREADS / SC_IG_BK;  // rows or columns per staging pass
    constexpr int EA = BM / PASS;
    constexpr int EB = BN / PASS;
    __shared__ __align__(16) sc_ig_stage<BM, P> s_a;
    __shared__ __align__(16) sc_ig_stage<BN, P> s_b;
    const int tid = threadIdx.x;
    const int kk = k * k;
    const int cols = c_i * kk;
    const int plane_g = gh * gw;
    const int depth = n * plane_g;
    const int m0 = blockIdx.x * BM;
    const int n0 = blockIdx.y * BN;
    const int k_begin = blockIdx.z * k_chunk;
    const int k_end = min(depth, k_begin + k_chunk);

    // This thread's k-row and the position (img, gy, gx) it stands for.
    const int r = tid % SC_IG_BK;
    int kidx = k_begin + r;
    int img = kidx / plane_g;
    int gy = (kidx - img * plane_g) / gw;
    int gx = kidx - img * plane_g - gy * gw;
    // Its A rows (output channels) and B columns (i, kh, kw): offsets into g's and x's
    // image, int as the launch code bounds every buffer by INT_MAX. A column past the
    // last has kh far below 0, so its bounds check fails.
    const int rs = tid / SC_IG_BK;
    const int plane_x = xh * xw;
    bool row_ok[EA];
    int row_off[EA];
#pragma unroll
    for (int e = 0; e < EA; ++e) {
        row_ok[e] = m0 + rs + e * PASS < c_o;
        row_off[e] = (m0 + rs + e * PASS) * plane_g;
    }
    // With x split in two (cat_in: x holds input channels 0 .. cat_in, x2 the rest, cat_in
    // each per image), bit e of `from_x2` marks a column of x2's channels.
    const int c_img = cat_in ? cat_in : c_i;
    int col_kh[EB], col_kw[EB], col_off[EB];
    unsigned from_x2 = 0;
#pragma unroll
    for (int e = 0; e < EB; ++e) {
        const int col = n0 + rs + e * PASS;
        const int kh = (col % kk) / k;
        const int kw = col % k;
        const bool second = cat_in && col / kk >= cat_in;
        col_kh[e] = col < cols ? kh : -(1 << 30);
        col_kw[e] = kw;
        col_off[e] = (col / kk - (second ? cat_in : 0)) * plane_x + kh * xw + kw;
        from_x2 |= (unsigned)second << e;
    }

    // The thread's values of the current step: fa(e, ok, offset into g) for A row e and
    // fb(e, ok, x or x2, offset into it) for B column e, ok false where the value is a zero
    // (past K, a missing row or column, the padding); the offset is then not to be read.
    auto each = [&](auto fa, auto fb) {
        const bool k_ok = kidx < k_end;
        const int iy0 = gy * stride - pad;
        const int ix0 = gx * stride - pad;
        const int g_pos = img * c_o * plane_g + gy * gw + gx;
        const int x_pos = img * c_img * plane_x + iy0 * xw + ix0;
#pragma unroll
        for (int e = 0; e < EA; ++e) fa(e, k_ok && row_ok[e], g_pos + row_off[e]);
#pragma unroll
        for (int e = 0; e < EB; ++e) {
            const bool in = k_ok && (unsigned)(iy0 + col_kh[e]) < (unsigned)xh && (unsigned)(ix0 + col_kw[e]) < (unsigned)xw;
            fb(e, in, (from_x2 >> e) & 1 ? x2 : x, x_pos + col_off[e]);
        }
    };
    float ra[EA], rb[EB];
    auto load = [&]() {
        each([&](int e, bool ok, int off) { ra[e] = ok ? g[off] : 0.0f; },
             [&](int e, bool ok, const float* src, int off) { rb[e] = ok ? src[off] : 0.0f; });
    };
    auto advance = [&]() {
        kidx += SC_IG_BK;
        gx += SC_IG_BK;
        while (gx >= gw) {
            gx -= gw;
            ++gy;
        }
        while (gy >= gh) {
            gy -= gh;
            ++img;
        }
    };
    // Bias sums: thread (r, rs) adds the A values it stages (row rs + e*PASS, its k-rows
    // r, r + 8, ... in increasing order) as it stores them, after the step's multiply, so
    // the prefetch is not waited for early; the 8 threads of a row are added at the end.
    const bool sums = has_db && blockIdx.y == 0;
    float bsum[EA];
#pragma unroll
    for (int e = 0; e < EA; ++e) bsum[e] = 0.0f;
    auto store = [&](int buf) {
#pragma unroll
        for (int e = 0; e < EA; ++e) {
            if (sums) bsum[e] += ra[e];
            s_a.v[buf][r][rs + e * PASS] = sc_ig_prep<P>(ra[e]);
        }
#pragma unroll
        for (int e = 0; e < EB; ++e) s_b.v[buf][r][rs + e * PASS] = sc_ig_prep<P>(rb[e]);
    };

    sc_ig_frag<BM, BN, TM, P> acc;
    if constexpr (P == SC_PREC_TF32) {
        sc_ig_main_loop<BM, BN, TM, P>(k_end - k_begin, s_a, s_b, acc, load, store, advance);
    } else {
        // cp.async staging: the same values into the same places, straight from global
        // memory (a missing value's copy is a zero fill; its address is a valid stand-in).
        auto issue = [&](int buf) {
            each([&](int e, bool ok, int off) { SC_CP_ASYNC_F32(&s_a.v[buf][r][rs + e * PASS], g + (ok ? off : 0), ok); },
                 [&](int e, bool ok, const float* src, int off) { SC_CP_ASYNC_F32(&s_b.v[buf][r][rs + e * PASS], src + (ok ? off : 0), ok); });
        };
        // The bias sums read back the A values the thread staged, step by step in order.
        auto visit = [&](int buf) {
            if (!sums) return;
#pragma unroll
            for (int e = 0; e < EA; ++e) bsum[e] += s_a.v[buf][r][rs + e * PASS];
        };
        sc_ig_main_loop_async<BM, BN, TM, P>(k_end - k_begin, s_a, s_b, acc, issue, advance, visit);
    }

    float* out_z = out + (size_t)blockIdx.z * c_o * cols;
#pragma unroll
    for (int i = 0; i < acc.R; ++i) {
        const int o = m0 + acc.row(i);
        if (o >= c_o) continue;
#pragma unroll
        for (int j = 0; j < acc.C; ++j) {
            const int col = n0 + acc.col(j);
            if (col < cols) out_z[(size_t)o * cols + col] = acc.v[i][j];
        }
    }
    if (sums) {
        // The 8 threads of row rs are 8 consecutive lanes: a fixed xor tree adds them.
#pragma unroll
        for (int e = 0; e < EA; ++e) {
#pragma unroll
            for (int off = SC_IG_BK / 2; off > 0; off >>= 1) bsum[e] += __shfl_xor_sync(0xffffffffu, bsum[e], off);
            const int o = m0 + rs + e * PASS;
            if (r == 0 && o < c_o) db[(size_t)blockIdx.z * c_o + o] = bsum[e];
        }
    }
}

// Tile of gradient positions of conv_wgrad_patch_body (rows x columns), its block of output
// channels (two mma row tiles), and the blocks per SM its TF32 and 3xTF32 instances'
// registers are bounded for (3xTF32 holds low parts too).
#define SC_WPATCH_TH 8
#define SC_WPATCH_TW 16
#define SC_WPATCH_BM 32
#define SC_WPATCH_MIN_BLOCKS_TF32 2
#define SC_WPATCH_MIN_BLOCKS_3XTF32 1

// Lane (g, t) of a warp, for the tap's mma: acc[mt] += A_mt * B with A_mt = the 16 x 8 tile
// of output-gradient rows mt (its operands split into TF32 high parts ha and, for 3xTF32, low
// parts la) and B = the 8 x 8 tile of input values whose high and low parts lane (g, t)
// holds as (hb0, hb1) and (lb0, lb1). 3xTF32 adds lo*hi and hi*lo before hi*hi, as
// sc_mma_tiles does.
template <int P>
static __device__ __forceinline__ void sc_wpatch_tap(float (&acc)[2][4], const unsigned (&ha)[2][4], const unsigned (&la)[2][4], unsigned hb0, unsigned hb1, unsigned lb0, unsigned lb1)
{
    const unsigned hb[2] = {hb0, hb1};
#pragma unroll
    for (int mt = 0; mt < 2; ++mt) {
        if constexpr (P == SC_PREC_3XTF32) {
            const unsigned lb[2] = {lb0, lb1};
            sc_mma_tf32(acc[mt], la[mt], hb);
            sc_mma_tf32(acc[mt], ha[mt], lb);
        }
        sc_mma_tf32(acc[mt], ha[mt], hb);
    }
}

// The patch-staged tensor-core weight gradient (TF32 or 3xTF32; stride 1, kernel side K):
// dw[o, i, kh, kw] = sum_{img, gy, gx} g[img, o, gy, gx] * x[img, i, gy - pad + kh,
// gx - pad + kw] (zero padding), for conv2d and, with g and x swapped by the launch code,
// conv_transpose2d. Per tap it is the GEMM C[o x i] += G[o x pixels] * X_tap[pixels x i], all
// K*K taps reading one staged input patch: X_tap's fragments are shifted reads of it, where
// conv_wgrad_igemm_body gathers every (pixel, tap) pair from global memory.
//
// Mapping: 32*K threads = K warps, warp kh owns kernel row kh (its K taps); a block
// computes dw for 32 output channels (grid.x) and 8 input channels (grid.y) over a range of
// (image, 8 x 16 tile of gradient positions) pairs: block z sums pairs [z*k_chunk,
// (z + 1)*k_chunk) in increasing order. Per pair the block stages g's tile as s_g[o][pixel]
// and the input patch (8 + K - 1) x (16 + K - 1) of its 8 channels as s_x[c][row][col]
// (both strides 4 mod 32: every fragment load below hits 32 banks), then steps K of the
// GEMM over 8 pixels (half a tile row) at a time. In a step, lane (g, t) loads its A
// fragments (output channels g, g + 8, g + 16, g + 24; pixels t, t + 4) once, and the
// K + 4 values X[j] = patch[channel g][row + kh][col + t + j] serve every tap kw of its
// row as B = (X[kw], X[kw + 4]). With one split the block writes dw, else its partial sum
// to out + z*len(dw) and sum_slices adds the splits in order: the result depends on the
// shape alone.
template <int K, int P>
static __device__ __forceinline__ void conv_wgrad_patch_body(const float* __restrict__ g, const float* __restrict__ x, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk)
{
    constexpr int TH = SC_WPATCH_TH;
    constexpr int TW = SC_WPATCH_TW;
    constexpr int BM = SC_WPATCH_BM;
    constexpr int CK = SC_PATCH_CK;
    constexpr int THREADS = 32 * K;
    constexpr int PIX = TH * TW;
    constexpr int GS = PIX + (4 - PIX % 32 + 32) % 32;
    constexpr int PW = TW + K - 1;
    constexpr int PAREA = (TH + K - 1) * PW;
    constexpr int CS = PAREA + (4 - PAREA % 32 + 32) % 32;
    constexpr int NX = K + 4;
    static_assert(BM == 32 && CK == 8 && TW % 8 == 0, "two 16-row mma tiles, one 8-column tile, steps of 8 pixels");
    __shared__ __align__(16) float s_g[BM * GS];
    __shared__ __align__(16) float s_x[CK * CS];
    if (k != K || stride != 1 || blockDim.x != THREADS) __trap();  // the launch code picks the instance by k and stride
    const int tid = threadIdx.x;
    const int lane = tid % 32;
    const int kh = tid / 32;
    const int lg = lane / 4;
    const int lt = lane % 4;
    const int o0 = blockIdx.x * BM;
    const int c0 = blockIdx.y * CK;
    const int tiles_x = (gw + TW - 1) / TW;
    const int tiles = tiles_x * ((gh + TH - 1) / TH);
    const int pair_end = min(n * tiles, (int)(blockIdx.z + 1) * k_chunk);

    float acc[K][2][4];
#pragma unroll
    for (int kw = 0; kw < K; ++kw) {
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[kw][mt][e] = 0.0f;
        }
    }
    for (int pair = blockIdx.z * k_chunk; pair < pair_end; ++pair) {
        const int img = pair / tiles;
        const int gy0 = (pair % tiles) / tiles_x * TH;
        const int gx0 = (pair % tiles) % tiles_x * TW;
        const float* g_img = g + (size_t)img * c_o * gh * gw;
        const float* x_img = x + (size_t)img * c_i * xh * xw;
#pragma unroll 1
        for (int e = tid; e < BM * PIX; e += THREADS) {
            const int o = o0 + e / PIX;
            const int gy = gy0 + (e % PIX) / TW;
            const int gx = gx0 + e % TW;
            const bool in = o < c_o && gy < gh && gx < gw;
            s_g[(e / PIX) * GS + e % PIX] = sc_ig_prep<P>(in ? g_img[((size_t)o * gh + gy) * gw + gx] : 0.0f);
        }
#pragma unroll 1
        for (int e = tid; e < CK * PAREA; e += THREADS) {
            const int c = c0 + e / PAREA;
            const int iy = gy0 - pad + (e % PAREA) / PW;
            const int ix = gx0 - pad + e % PW;
            const bool in = c < c_i && (unsigned)iy < (unsigned)xh && (unsigned)ix < (unsigned)xw;
            s_x[(e / PAREA) * CS + e % PAREA] = sc_ig_prep<P>(in ? x_img[((size_t)c * xh + iy) * xw + ix] : 0.0f);
        }
        __syncthreads();
#pragma unroll 1
        for (int q = 0; q < PIX / 8; ++q) {
            const float* ap = s_g + lg * GS + 8 * q + lt;
            const float* xp = s_x + lg * CS + (q / (TW / 8) + kh) * PW + 8 * (q % (TW / 8)) + lt;
            unsigned ha[2][4], la[2][4], hx[NX], lx[NX];
#pragma unroll
            for (int mt = 0; mt < 2; ++mt) {
                const float v[4] = {ap[mt * 16 * GS], ap[(mt * 16 + 8) * GS], ap[mt * 16 * GS + 4], ap[(mt * 16 + 8) * GS + 4]};
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    ha[mt][e] = P == SC_PREC_TF32 ? __float_as_uint(v[e]) : sc_tf32(v[e]);
                    la[mt][e] = P == SC_PREC_TF32 ? 0u : sc_tf32(v[e] - __uint_as_float(ha[mt][e]));
                }
            }
#pragma unroll
            for (int j = 0; j < NX; ++j) {
                const float v = xp[j];
                hx[j] = P == SC_PREC_TF32 ? __float_as_uint(v) : sc_tf32(v);
                lx[j] = P == SC_PREC_TF32 ? 0u : sc_tf32(v - __uint_as_float(hx[j]));
            }
#pragma unroll
            for (int kw = 0; kw < K; ++kw) sc_wpatch_tap<P>(acc[kw], ha, la, hx[kw], hx[kw + 4], lx[kw], lx[kw + 4]);
        }
        __syncthreads();
    }

    // Epilogue: acc[kw][mt][e] is output channel o0 + 16 mt + g + 8 (e / 2), input channel
    // c0 + 2t + e % 2, tap (kh, kw).
    float* out_z = out + (size_t)blockIdx.z * c_o * c_i * K * K;
#pragma unroll
    for (int kw = 0; kw < K; ++kw) {
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int o = o0 + 16 * mt + lg + 8 * (e / 2);
                const int c = c0 + 2 * lt + e % 2;
                if (o < c_o && c < c_i) out_z[(((size_t)o * c_i + c) * K + kh) * K + kw] = acc[kw][mt][e];
            }
        }
    }
}

// conv_wgrad_patch_body with TF32 tensor cores: 9 x 9 kernels (G's layers), 288 threads.
extern "C" __global__ void __launch_bounds__(9 * 32, SC_WPATCH_MIN_BLOCKS_TF32) conv_wgrad_patch_9_tf32(const float* __restrict__ g, const float* __restrict__ x, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk)
{
    conv_wgrad_patch_body<9, SC_PREC_TF32>(g, x, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk);
}

// conv_wgrad_patch_body with 3xTF32 tensor cores: 9 x 9 kernels (G's layers), 288 threads.
extern "C" __global__ void __launch_bounds__(9 * 32, SC_WPATCH_MIN_BLOCKS_3XTF32) conv_wgrad_patch_9_3xtf32(const float* __restrict__ g, const float* __restrict__ x, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk)
{
    conv_wgrad_patch_body<9, SC_PREC_3XTF32>(g, x, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk);
}

// conv_wgrad_igemm_body with 64 x 64 tiles (output channels x (i, kh, kw)): the default.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_64X64) conv_wgrad_igemm_64x64(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<64, 64, 4, SC_PREC_FP32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_body with 64 x 128 tiles, 8 x 4 per thread (half the shared-memory
// traffic per FMA of 4 x 4): FP32 for more than 64 output channels (D's deeper layers).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_64X128) conv_wgrad_igemm_64x128(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<64, 128, 8, SC_PREC_FP32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_body with 32 x 128 tiles: at most 32 output channels (G's layers).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_32X128) conv_wgrad_igemm_32x128(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<32, 128, 4, SC_PREC_FP32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_64x64 with TF32 tensor cores (warp tiles of 32 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_64X64) conv_wgrad_igemm_64x64_tf32(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<64, 64, 4, SC_PREC_TF32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_32x128 with TF32 tensor cores (warp tiles of 32 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_32X128) conv_wgrad_igemm_32x128_tf32(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<32, 128, 4, SC_PREC_TF32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_body with 32 x 64 tiles and TF32 tensor cores (warp tiles of 32 x 8):
// at most 32 output channels whose columns (i, kh, kw) would leave most of a 128-wide tile
// empty (the 1-channel lifts: 9 columns; D's first layer: 36). In FP32 the 32 x 128 tile's
// 4 x 4 micro-tiles stay cheaper than 2 x 4.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_32X64) conv_wgrad_igemm_32x64_tf32(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<32, 64, 2, SC_PREC_TF32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_body with 128 x 128 tiles and TF32 tensor cores (warp tiles of 32 x 64:
// half the staging and fragment loads per mma of 64 x 64): more than 64 output channels
// (D's deeper layers).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_128X128) conv_wgrad_igemm_128x128_tf32(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<128, 128, 4, SC_PREC_TF32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_64x64 with 3xTF32 tensor cores (warp tiles of 32 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_64X64) conv_wgrad_igemm_64x64_3xtf32(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<64, 64, 4, SC_PREC_3XTF32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_32x128 with 3xTF32 tensor cores (warp tiles of 32 x 16).
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_32X128_3XTF32) conv_wgrad_igemm_32x128_3xtf32(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<32, 128, 4, SC_PREC_3XTF32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}

// conv_wgrad_igemm_32x64_tf32 with 3xTF32 tensor cores.
extern "C" __global__ void __launch_bounds__(SC_IG_THREADS, SC_IG_MIN_BLOCKS_WGRAD_32X64) conv_wgrad_igemm_32x64_3xtf32(const float* __restrict__ g, const float* __restrict__ x, const float* __restrict__ x2, float* __restrict__ out, int n, int c_o, int gh, int gw, int c_i, int xh, int xw, int k, int stride, int pad, int k_chunk, float* __restrict__ db, int has_db, int cat_in)
{
    conv_wgrad_igemm_body<32, 64, 2, SC_PREC_3XTF32>(g, x, x2, out, n, c_o, gh, gw, c_i, xh, xw, k, stride, pad, k_chunk, db, has_db, cat_in);
}
