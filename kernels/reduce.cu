// Deterministic reductions (f32): whole-buffer sums and sums of squares in two launches
// (per-block partials, then one block adds them in a fixed order) and per-channel sums
// (bias gradients).
#include "common.cuh"

// partials[block] = sum of the block's elements of x.
// Mapping: 1-D grid-stride loop (grid size fixed by n), then sc_block_sum (warp shuffles
// + 32 floats of static shared memory); thread 0 writes the block's partial.
extern "C" __global__ void sum_partials(const float* __restrict__ x, float* __restrict__ partials, int n)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) acc += x[i];
    const float s = sc_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// partials[block] = sum of the squares of the block's elements of x (the squared norm of a
// gradient tensor; reduce_partials then adds the partials to out[0]).
// Mapping: 1-D grid-stride loop (grid size fixed by n), then sc_block_sum (warp shuffles
// + 32 floats of static shared memory); thread 0 writes the block's partial.
extern "C" __global__ void sum_squares_partials(const float* __restrict__ x, float* __restrict__ partials, int n)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float v = x[i];
        acc += v * v;
    }
    const float s = sc_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// out[0] = (accumulate ? out[0] : 0) + sum of partials[0..count).
// Mapping: a single block; its threads stride over the partials in index order, then
// sc_block_sum (warp shuffles + 32 floats of static shared memory); thread 0 writes out.
extern "C" __global__ void reduce_partials(const float* __restrict__ partials, float* __restrict__ out, int count, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    const float s = sc_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) out[0] = accumulate ? out[0] + s : s;
}

// out[j*c + ch] = the sum of elements [j*chunk, (j + 1)*chunk) of channel ch's n * plane
// values g[img, ch, p] (index img*plane + p): the bias gradients of convolutions (plane =
// h_out * w_out) and of the linear layer (plane = 1). With one chunk (gridDim.y = 1, chunk
// >= n * plane) that is the channel's whole sum, out[ch]; with more, sum_slices adds the
// chunks in order j = 0, 1, ... (src/ops/reduce/gpu.rs), so the result depends on the
// shape only.
// Mapping: one block per (channel, chunk) (grid.x = c, grid.y = chunks); its threads
// (1-D, a multiple of 32) stride over the chunk, then sc_block_sum (warp shuffles + 32
// floats of static shared memory); thread 0 writes the sum.
extern "C" __global__ void channel_sum(const float* __restrict__ g, float* __restrict__ out, int n, int c, int plane, int chunk)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    const int ch = blockIdx.x;
    const int total = n * plane;
    const int begin = blockIdx.y * chunk;
    const int end = min(total, begin + chunk);
    float acc = 0.0f;
    for (int e = begin + threadIdx.x; e < end; e += blockDim.x) {
        const int img = e / plane;
        acc += g[((size_t)img * c + ch) * plane + e % plane];
    }
    const float s = sc_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) out[blockIdx.y * c + ch] = s;
}

// out[e] = act(sum_{z < slices} parts[z*len + e] + bias[(e / plane) % c]), the slices
// added in order z = 0, 1, ... and the bias only with has_bias: the split-K partial sums
// of the implicit-GEMM convolutions (an NCHW output of c channels of `plane` pixels) and
// weight gradients (no bias, identity).
// Mapping: one thread per element e (grid-stride over len); consecutive threads read
// consecutive elements of each slice.
extern "C" __global__ void sum_slices(const float* __restrict__ parts, const float* __restrict__ bias, float* __restrict__ out, int slices, int len, int plane, int c, int has_bias, int act, float slope)
{
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < (size_t)len; e += (size_t)gridDim.x * blockDim.x) {
        float acc = 0.0f;
        for (int z = 0; z < slices; ++z) acc += parts[(size_t)z * len + e];
        if (has_bias) acc += bias[(e / plane) % c];
        out[e] = sc_act(acc, act, slope);
    }
}
