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

// The layer's gradients in one launch: dx[r, c] = sum_j dy[r, j] w[j, c] (j ascending;
// only with has_dx), dw[j, c] = sum_r dy[r, j] x[r, c] and db[j] = sum_r dy[r, j] (r
// ascending). The launch code bounds n*k + m*k + m by INT_MAX.
// Mapping: 1-D grid-stride loop over the elements of dx (with has_dx), then those of dw,
// then those of db, one element per thread per step; no shared memory.
extern "C" __global__ void linear_backward(const float* __restrict__ dy, const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ dx, float* __restrict__ dw, float* __restrict__ db, int n, int k, int m, int has_dx)
{
    const int dx_len = has_dx ? n * k : 0;
    const int dw_len = m * k;
    const int total = dx_len + dw_len + m;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        float acc = 0.0f;
        if (e < dx_len) {
            const int r = e / k;
            const int c = e % k;
            for (int j = 0; j < m; ++j) acc += dy[(size_t)r * m + j] * w[(size_t)j * k + c];
            dx[e] = acc;
        } else if (e < dx_len + dw_len) {
            const int j = (e - dx_len) / k;
            const int c = (e - dx_len) % k;
            for (int r = 0; r < n; ++r) acc += dy[(size_t)r * m + j] * x[(size_t)r * k + c];
            dw[e - dx_len] = acc;
        } else {
            const int j = e - dx_len - dw_len;
            for (int r = 0; r < n; ++r) acc += dy[(size_t)r * m + j];
            db[j] = acc;
        }
    }
}
