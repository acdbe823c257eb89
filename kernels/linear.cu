// The linear layer y = x w^T + b with x [n, k], w [m, k], b [m] (D's last layer), f32.
#include "common.cuh"

// y[r, j] = b[j] + sum_c x[r, c] w[j, c].
// Mapping: one block per output: grid.x = m (j), grid.y = n (r); the block's threads
// (1-D, a multiple of 32) stride over c, then sc_block_sum (warp shuffles + 32 floats of
// static shared memory) adds the partial sums in a fixed tree; thread 0 writes y.
extern "C" __global__ void linear_forward(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b, float* __restrict__ y, int k, int m)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    const int j = blockIdx.x;
    const int r = blockIdx.y;
    const float* xr = x + (size_t)r * k;
    const float* wj = w + (size_t)j * k;
    float acc = 0.0f;
    for (int c = threadIdx.x; c < k; c += blockDim.x) acc += xr[c] * wj[c];
    const float s = sc_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) y[(size_t)r * m + j] = s + b[j];
}

// dx[r, c] = sum_j dy[r, j] w[j, c] (j ascending).
// Mapping: 1-D grid-stride loop, one element of dx per thread per step; no shared memory.
extern "C" __global__ void linear_backward_input(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx, int n, int k, int m)
{
    const int total = n * k;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        const int r = e / k;
        const int c = e % k;
        float acc = 0.0f;
        for (int j = 0; j < m; ++j) acc += dy[(size_t)r * m + j] * w[(size_t)j * k + c];
        dx[e] = acc;
    }
}

// dw[j, c] = sum_r dy[r, j] x[r, c] (r ascending).
// Mapping: 1-D grid-stride loop, one element of dw per thread per step; no shared memory.
extern "C" __global__ void linear_backward_weight(const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ dw, int n, int k, int m)
{
    const int total = m * k;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        const int j = e / k;
        const int c = e % k;
        float acc = 0.0f;
        for (int r = 0; r < n; ++r) acc += dy[(size_t)r * m + j] * x[(size_t)r * k + c];
        dw[e] = acc;
    }
}
