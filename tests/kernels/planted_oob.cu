// A correct copy kernel and copies of it with planted off-by-one bugs, for the
// out-of-bounds tests (tests/emu_asan.rs, and the guard-page test of tests/emu_probe.rs).
// Launch with blockDim.x == 128 (the size of the shared tile). Compiled for the emulator only.
#include "common.cuh"

#define OOB_TILE 128

// Correct: dst[i] = src[i] for i < n, staged through static and dynamic shared memory.
extern "C" __global__ void oob_copy(const float* src, float* dst, int n)
{
    __shared__ float tile[OOB_TILE];
    SATCOLOR_DYNAMIC_SHARED(float, smem);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = i < n ? src[i] : 0.0f;
    smem[threadIdx.x] = tile[threadIdx.x];
    if (i < n) dst[i] = smem[threadIdx.x];
}

// BUG ON PURPOSE: `i <= n` writes dst[n], one past the end.
extern "C" __global__ void oob_write_past_end(const float* src, float* dst, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) dst[i] = i < n ? src[i] : 0.0f;
}

// BUG ON PURPOSE: `i <= n` reads src[n], one past the end.
extern "C" __global__ void oob_read_past_end(const float* src, float* dst, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) {
        const float v = src[i];
        if (i < n) dst[i] = v;
    }
}

// BUG ON PURPOSE: the static shared tile is indexed one past its end by the last thread.
extern "C" __global__ void oob_static_shared_past_end(const float* src, float* dst, int n)
{
    __shared__ float tile[OOB_TILE];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x + 1] = i < n ? src[i] : 0.0f;
    if (i < n) dst[i] = tile[threadIdx.x + 1];
}

// BUG ON PURPOSE: dynamic shared memory (blockDim.x floats) written one past its end.
extern "C" __global__ void oob_dynamic_shared_past_end(const float* src, float* dst, int n)
{
    SATCOLOR_DYNAMIC_SHARED(float, smem);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    smem[threadIdx.x + 1] = i < n ? src[i] : 0.0f;
    if (i < n) dst[i] = smem[threadIdx.x + 1];
}
