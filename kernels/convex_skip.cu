// The fused convex skip of the generator: u = sigma(theta) a + (1 - sigma(theta)) b, theta a
// one-element buffer, and its backward (da, db and the partial sums of dtheta in one pass).
#include "common.cuh"
#include "half.cuh"

// u[i] = s a[i] + (1 - s) b[i] with s = sigma(theta[0]) and 1 - s computed as sigma(-theta[0]).
// Mapping: 1-D grid-stride loop, one element per thread per step; no shared memory.
extern "C" __global__ void convex_skip_forward(const float* __restrict__ theta, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ u, int n)
{
    const float s = sc_sigmoid(theta[0]);
    const float r = sc_sigmoid(-theta[0]);  // 1 - s without cancellation for large theta
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        u[i] = s * a[i] + r * b[i];
    }
}

// convex_skip_forward on 16-bit storage of format fmt (theta, a, b and u; kernels/half.cuh).
// Mapping: as convex_skip_forward.
extern "C" __global__ void convex_skip_forward_h16(const unsigned short* __restrict__ theta, const unsigned short* __restrict__ a, const unsigned short* __restrict__ b, unsigned short* __restrict__ u, int n, int fmt)
{
    const float th = sc_ld(theta, fmt);
    const float s = sc_sigmoid(th);
    const float r = sc_sigmoid(-th);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        sc_st(u + i, s * sc_ld(a + i, fmt) + r * sc_ld(b + i, fmt), fmt);
    }
}

// da[i] = s du[i], db[i] = (1 - s) du[i], and partials[block] = s (1 - s) *
// sum over the block's elements of du[i] (a[i] - b[i]); reduce_partials then adds the
// gridDim.x partials into dtheta in a fixed order.
// Mapping: 1-D grid-stride loop (the grid size is fixed by the element count only), then
// sc_block_sum (warp shuffles + 32 floats of static shared memory); thread 0 writes the
// block's partial.
extern "C" __global__ void convex_skip_backward(const float* __restrict__ theta, const float* __restrict__ a, const float* __restrict__ b, const float* __restrict__ du, float* __restrict__ da, float* __restrict__ db, float* __restrict__ partials, int n, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    const float s = sc_sigmoid(theta[0]);
    const float r = sc_sigmoid(-theta[0]);  // 1 - s without cancellation for large theta
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float g = du[i];
        da[i] = s * g;
        db[i] = r * g;
        acc += g * (a[i] - b[i]);
    }
    const float sum = sc_block_sum(acc, warp_sums);
    sc_store_partial(partials, s * r * sum, accumulate);
}
