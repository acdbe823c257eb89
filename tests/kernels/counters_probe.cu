// Kernels with known memory-traffic figures, for the emulator's performance counters
// (tests/emu_counters.rs, `--features emu-counters`). Launch with blockDim.x == 64 (two
// warps). Compiled for the emulator only.
#include "common.cuh"

// y[i] = x[i]: per warp one load and one store request of 32 consecutive floats, 4 sectors
// each.
extern "C" __global__ void probe_unit_stride(const float* x, float* y, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i];
}

// y[i] = x[32 i]: lanes 128 bytes apart, 32 sectors per load request (the store: 4).
extern "C" __global__ void probe_stride_32(const float* x, float* y, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[32 * i];
}

// Every lane reads the same shared word: a broadcast, 1 wavefront per request (the tile is
// written with unit stride first: 1 wavefront per request too).
extern "C" __global__ void probe_shared_broadcast(const float* x, float* y, int n)
{
    __shared__ float tile[64];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    if (i < n) y[i] = tile[0];
}

// Lane l reads word 2l of the tile: lanes l and l + 16 hit the same bank at different
// words, a 2-way conflict: 2 wavefronts per request.
extern "C" __global__ void probe_shared_2way(const float* x, float* y, int n)
{
    __shared__ float tile[128];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = i < n ? x[i] : 0.0f;
    tile[threadIdx.x + 64] = 0.0f;
    __syncthreads();
    if (i < n) y[i] = tile[2 * (threadIdx.x % 32)];
}

// probe_shared_2way's body in a function template: GCC drops the section attribute the
// counters build gives a static local of a template (the implicit-GEMM kernels' case), so
// the counters must see its shared memory anyway.
template <int WORDS>
static __device__ void probe_template_2way_body(const float* x, float* y, int n)
{
    __shared__ float tile[WORDS];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = i < n ? x[i] : 0.0f;
    tile[threadIdx.x + 64] = 0.0f;
    __syncthreads();
    if (i < n) y[i] = tile[2 * (threadIdx.x % 32)];
}

extern "C" __global__ void probe_template_shared_2way(const float* x, float* y, int n)
{
    probe_template_2way_body<128>(x, y, n);
}
