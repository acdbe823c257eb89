// A correct copy kernel and copies of it with planted off-by-one bugs, for the
// out-of-bounds tests (tests/emu_asan.rs, and the guard-page test of tests/emu_probe.rs).
// Launch with blockDim.x == 128 (the size of the shared tile). Compiled for the emulator only.
#include "common.cuh"

#define OOB_TILE 128

// Correct: dst[i] = src[i] for i < n, staged through static and dynamic shared memory
// (each thread reads the slots its neighbour wrote, after a barrier).
extern "C" __global__ void oob_copy(const float* src, float* dst, int n)
{
    __shared__ float tile[OOB_TILE];
    SATCOLOR_DYNAMIC_SHARED(float, smem);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned next = (threadIdx.x + 1) % blockDim.x;
    tile[threadIdx.x] = i < n ? src[i] : 0.0f;
    __syncthreads();
    smem[next] = tile[next];
    __syncthreads();
    if (i < n) dst[i] = smem[threadIdx.x];
}

// BUG ON PURPOSE: the destination index is off by one, so the last thread writes dst[n].
extern "C" __global__ void oob_write_past_end(const float* src, float* dst, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i + 1] = src[i];
}

// BUG ON PURPOSE: the source index is off by one, so the last thread reads src[n].
extern "C" __global__ void oob_read_past_end(const float* src, float* dst, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = src[i + 1];
}

// BUG ON PURPOSE: each thread reads its right neighbour's slot of the static shared tile
// without a bound check, so the last thread reads one past the end of the tile.
extern "C" __global__ void oob_static_shared_past_end(const float* src, float* dst, int n)
{
    __shared__ float tile[OOB_TILE];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = i < n ? src[i] : 0.0f;
    __syncthreads();
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
