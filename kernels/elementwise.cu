// Elementwise kernels: gradient accumulation (plain and scaled) and scaling (f32).
#include "common.cuh"
#include "half.cuh"

// dst[i] += src[i].
// Mapping: 1-D grid-stride loop, one element per thread per step; no shared memory.
extern "C" __global__ void add_assign(float* __restrict__ dst, const float* __restrict__ src, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        dst[i] += src[i];
    }
}

// add_assign on 16-bit storage of format fmt: dst[i] = round(dst[i] + src[i]), the sum in
// FP32 (the consistent head's two terms at reduced precision).
// Mapping: as add_assign.
extern "C" __global__ void add_assign_h16(unsigned short* __restrict__ dst, const unsigned short* __restrict__ src, int n, int fmt)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        sc_st(dst + i, sc_ld(dst + i, fmt) + sc_ld(src + i, fmt), fmt);
    }
}

// dst[i] += alpha[0] * src[i], the factor read from device memory, so that a replayed
// CUDA Graph applies this iteration's value (λ_G(t) of the G step).
// Mapping: 1-D grid-stride loop, one element per thread per step; no shared memory.
extern "C" __global__ void add_scaled(float* __restrict__ dst, const float* __restrict__ src, const float* __restrict__ alpha, int n)
{
    const float a = alpha[0];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        dst[i] += a * src[i];
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
