// Losses and the L2 penalty (f32): each kernel writes its elementwise gradient and one
// partial sum of the loss per block; reduce_partials (reduce.cu) then adds the partials
// into loss[0] in a fixed order, so the loss is bit-reproducible without atomics.
//
// Mapping of all three: 1-D grid-stride loop over the elements (the grid size depends
// only on the element count), then sc_block_sum (warp shuffles + 32 floats of static
// shared memory); thread 0 writes partials[blockIdx.x].
#include "common.cuh"

// BCE with logits against t_i = target for i < first and 1 - target after (the D step's
// real and generated windows in one batch), softplus form (stable for large |z|):
// dz[i] = scale (sigma(z[i]) - t_i), partials[block] = scale * sum of
// max(z, 0) - t_i z + log1p(exp(-|z|)) over the block's elements.
extern "C" __global__ void bce_with_logits(const float* __restrict__ z, float* __restrict__ dz, float* __restrict__ partials, int n, float target, int first, float scale, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float zi = z[i];
        const float t = i < first ? target : 1.0f - target;
        acc += fmaxf(zi, 0.0f) - t * zi + log1pf(expf(-fabsf(zi)));
        dz[i] = scale * (sc_sigmoid(zi) - t);
    }
    const float s = sc_block_sum(acc, warp_sums);
    sc_store_partial(partials, scale * s, accumulate);
}

// Squared error: da[i] = 2 scale (a[i] - b[i]), partials[block] = scale * sum (a - b)^2.
extern "C" __global__ void mse(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ da, float* __restrict__ partials, int n, float scale, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    const float two_scale = 2.0f * scale;
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float d = a[i] - b[i];
        acc += d * d;
        da[i] = two_scale * d;
    }
    const float s = sc_block_sum(acc, warp_sums);
    sc_store_partial(partials, scale * s, accumulate);
}

// L2 penalty: dw[i] += 2 scale w[i], partials[block] = scale * sum w^2.
extern "C" __global__ void l2_penalty(const float* __restrict__ w, float* __restrict__ dw, float* __restrict__ partials, int n, float scale, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    const float two_scale = 2.0f * scale;
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float wi = w[i];
        acc += wi * wi;
        dw[i] += two_scale * wi;
    }
    const float s = sc_block_sum(acc, warp_sums);
    sc_store_partial(partials, scale * s, accumulate);
}
