// Elementwise kernels: gradient accumulation and scaling (f32).
#include "common.cuh"

// dst[i] += src[i].
// Mapping: 1-D grid-stride loop, one element per thread per step; no shared memory.
extern "C" __global__ void add_assign(float* __restrict__ dst, const float* __restrict__ src, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        dst[i] += src[i];
    }
}

// In place: x[i] *= factor (gradient clipping).
// Mapping: 1-D grid-stride loop, one element per thread per step; no shared memory.
extern "C" __global__ void scale_in_place(float* __restrict__ x, int n, float factor)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        x[i] *= factor;
    }
}
