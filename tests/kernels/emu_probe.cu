// Kernels that exist only to test the emulator (tests/emu_probe.rs): reductions through
// shared memory and warp shuffles, deliberate barrier bugs, launch limits, atomics and
// __half rounding, the tensor-core mma and TF32 rounding. Compiled for the emulator only.
#include "common.cuh"
#include "mma.cuh"

// Sum of x[blockIdx.x * blockDim.x ...] per block into out[blockIdx.x]: a shared-memory
// tree for any blockDim.x up to 1024 (not only powers of two), one __syncthreads per level.
extern "C" __global__ void probe_tree_sum(const float* x, float* out, int n)
{
    __shared__ float buf[1024];
    const unsigned t = threadIdx.x;
    const unsigned i = blockIdx.x * blockDim.x + t;
    buf[t] = i < (unsigned)n ? x[i] : 0.0f;
    __syncthreads();
    unsigned span = 1;
    while (span < blockDim.x) span <<= 1;
    for (unsigned s = span >> 1; s > 0; s >>= 1) {
        if (t < s && t + s < blockDim.x) buf[t] += buf[t + s];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = buf[0];
}

// Per-warp sums by an xor butterfly: every lane ends with the warp's total; lane 0 writes
// it to out[global warp index]. blockDim.x must be a multiple of 32.
extern "C" __global__ void probe_warp_sum(const float* x, float* out, int n)
{
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < (unsigned)n ? x[i] : 0.0f;
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    if ((threadIdx.x & 31) == 0) out[i >> 5] = v;
}

// Inclusive scan within each warp (shfl_up) into scan[i], the warp's total broadcast from
// lane 31 (shfl idx) into total[i], and the number of positive inputs of the warp
// (ballot + popc) into positives[i]. blockDim.x must be a multiple of 32.
extern "C" __global__ void probe_warp_scan(const float* x, float* scan, float* total, float* positives, int n)
{
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned lane = threadIdx.x & 31;
    const float xi = i < (unsigned)n ? x[i] : 0.0f;
    float v = xi;
    for (unsigned d = 1; d < 32; d <<= 1) {
        const float up = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= d) v += up;
    }
    const float t = __shfl_sync(0xffffffffu, v, 31);
    const unsigned pos = __ballot_sync(0xffffffffu, xi > 0.0f);
    if (i < (unsigned)n) {
        scan[i] = v;
        total[i] = t;
        positives[i] = (float)__popc(pos);
    }
}

// BUG ON PURPOSE: each thread stores its input in shared memory and reads its neighbour's
// slot without a __syncthreads in between, so the result depends on the thread order.
extern "C" __global__ void probe_missing_sync(const float* x, float* out)
{
    __shared__ float buf[1024];
    const unsigned t = threadIdx.x;
    const unsigned i = blockIdx.x * blockDim.x + t;
    buf[t] = x[i];
    out[i] = buf[(t + 1) % blockDim.x];
}

// BUG ON PURPOSE: thread 5 returns before a barrier that the other threads wait at.
extern "C" __global__ void probe_exit_before_barrier(float* out)
{
    if (threadIdx.x == 5) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

// BUG ON PURPOSE: the two halves of the block wait at different __syncthreads.
extern "C" __global__ void probe_split_barrier(float* out)
{
    if (threadIdx.x < 16) {
        __syncthreads();
        out[threadIdx.x] = 1.0f;
    } else {
        __syncthreads();
        out[threadIdx.x] = 2.0f;
    }
}

// BUG ON PURPOSE: lane 0 shuffles with the whole warp while the other lanes wait at
// __syncthreads: a deadlock on a GPU.
extern "C" __global__ void probe_warp_vs_block(float* out)
{
    float v = (float)threadIdx.x;
    if (threadIdx.x == 0) v = __shfl_sync(0xffffffffu, v, 1);
    __syncthreads();
    out[threadIdx.x] = v;
}

// Counts every thread of the launch: counter[0] as an int (atomicAdd on int), and
// hist[linear thread index % bins] as floats (atomicAdd on float).
extern "C" __global__ void probe_atomic_count(float* counter, float* hist, int bins)
{
    atomicAdd(reinterpret_cast<int*>(counter), 1);
    const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    atomicAdd(&hist[t % (unsigned)bins], 1.0f);
}

// out[n-1-i] = x[i] through n floats of dynamic shared memory (one block).
extern "C" __global__ void probe_dynamic_reverse(const float* x, float* out, int n)
{
    SATCOLOR_DYNAMIC_SHARED(float, smem);
    for (int i = threadIdx.x; i < n; i += blockDim.x) smem[i] = x[i];
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = smem[n - 1 - i];
}

// fp16: sum[i] = a+b, prod[i] = a*b in __half (inputs rounded to half first), and
// conv[i] = x rounded to half and back.
extern "C" __global__ void probe_half(const float* a, const float* b, float* sum, float* prod, float* conv, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const __half ha = __float2half(a[i]);
    const __half hb = __float2half(b[i]);
    sum[i] = __half2float(__hadd(ha, hb));
    prod[i] = __half2float(__hmul(ha, hb));
    conv[i] = __half2float(__float2half(a[i] * 1.001f));
}

// One m16n8k8 TF32 mma per warp: warp q multiplies A = a[q*128 ..] (16 x 8, row-major) by
// B = b[q*64 ..] (8 x 8, row-major [k][n]) and adds C = c[q*128 ..] (16 x 8), writing D to
// d[q*128 ..]; each lane loads its fragments in PTX's layout (kernels/mma.cuh). With
// round_inputs the operands go through sc_tf32 first, else their f32 bits are passed as
// they are (the instruction ignores the low 13 bits). blockDim.x must be a multiple of 32.
extern "C" __global__ void probe_mma_tf32(const float* a, const float* b, const float* c, float* d, int round_inputs)
{
    const int q = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    const int g = lane / 4;
    const int t = lane % 4;
    const float* A = a + q * 128;
    const float* B = b + q * 64;
    const float* C = c + q * 128;
    float* D = d + q * 128;
    auto op = [&](float v) { return round_inputs ? sc_tf32(v) : __float_as_uint(v); };
    const unsigned fa[4] = {op(A[g * 8 + t]), op(A[(g + 8) * 8 + t]), op(A[g * 8 + t + 4]), op(A[(g + 8) * 8 + t + 4])};
    const unsigned fb[2] = {op(B[t * 8 + g]), op(B[(t + 4) * 8 + g])};
    float acc[4] = {C[g * 8 + 2 * t], C[g * 8 + 2 * t + 1], C[(g + 8) * 8 + 2 * t], C[(g + 8) * 8 + 2 * t + 1]};
    sc_mma_tf32(acc, fa, fb);
    D[g * 8 + 2 * t] = acc[0];
    D[g * 8 + 2 * t + 1] = acc[1];
    D[(g + 8) * 8 + 2 * t] = acc[2];
    D[(g + 8) * 8 + 2 * t + 1] = acc[3];
}

// Misused mma: mode 0, only lanes 0..15 call it; mode 1, lane 3 exits first; mode 2, the
// two half-warps call it from two sites; mode 3, every lane calls it (a block of 48 threads
// leaves the second warp partial).
extern "C" __global__ void probe_mma_misuse(float* out, int mode)
{
    const int lane = threadIdx.x % 32;
    const unsigned fa[4] = {0u, 0u, 0u, 0u};
    const unsigned fb[2] = {0u, 0u};
    float acc[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    if (mode == 0 && lane < 16) sc_mma_tf32(acc, fa, fb);
    if (mode == 1) {
        if (lane == 3) return;
        sc_mma_tf32(acc, fa, fb);
    }
    if (mode == 2) {
        if (lane < 16) {
            sc_mma_tf32(acc, fa, fb);
        } else {
            sc_mma_tf32(acc, fa, fb);
        }
    }
    if (mode == 3) sc_mma_tf32(acc, fa, fb);
    out[threadIdx.x] = acc[0];
}

// out[i] = x[i] rounded to TF32 by sc_tf32 (cvt.rna.tf32.f32).
extern "C" __global__ void probe_tf32(const float* x, float* out, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __uint_as_float(sc_tf32(x[i]));
}

// cp.async: thread t copies x[i] (i its global index) into shared slot t and writes out[i] =
// the slot of its block neighbour t + 1, read after its own wait and a barrier (mode 0:
// right), after a barrier but before its wait (mode 1: a neighbour's copy may not have
// landed), or with no wait at all (mode 2: the launch is an error). Copies of an odd
// thread's are issued in two groups, waited for with SC_CP_ASYNC_WAIT(1) then (0), so that
// the group bookkeeping matters (mode 0 reads slot t + 1 only after both).
extern "C" __global__ void probe_cp_async(const float* x, float* out, int mode)
{
    __shared__ float buf[2][1024];
    const unsigned t = threadIdx.x;
    const unsigned i = blockIdx.x * blockDim.x + t;
    SC_CP_ASYNC_F32(&buf[0][t], x + i, true);
    SC_CP_ASYNC_COMMIT();
    SC_CP_ASYNC_F32(&buf[1][t], x + i, t % 2 == 0);
    SC_CP_ASYNC_COMMIT();
    if (mode == 0) {
        SC_CP_ASYNC_WAIT(1);
        SC_CP_ASYNC_WAIT(0);
    }
    __syncthreads();
    if (mode == 1) SC_CP_ASYNC_WAIT(0);
    const unsigned u = (t + 1) % blockDim.x;
    out[i] = buf[0][u] + buf[1][u];
}
