// Helpers shared by every kernel module of satcolor (f32, NCHW).
//
// Everything here is `static __device__ inline` so that each .cu module (a separate CUDA
// module, and a separate translation unit in the emulator) gets its own copy.
#pragma once

// Dynamic shared memory: `SATCOLOR_DYNAMIC_SHARED(float, smem);` declares the block's
// dynamic shared array. nvcc gets CUDA's `extern __shared__` form; the emulator defines the
// macro its own way before including this header.
#ifndef SATCOLOR_DYNAMIC_SHARED
#define SATCOLOR_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

// Every `#define SC_<NAME> <integer>` of kernels/*.cu and kernels/*.cuh is exported to Rust
// by build.rs as `crate::kernels::consts::SC_<NAME>`: define such a constant here or in its
// .cu file only, never again in Rust.

// Activation codes (the `act` parameter of the kernels); `Act::code` in src/ops/mod.rs
// returns them.
#define SC_ACT_IDENTITY 0
#define SC_ACT_RELU 1
#define SC_ACT_LEAKY 2

// Threads of a warp, as the shuffles of sc_block_sum assume them.
#define SC_WARP_SIZE 32
// Most warps of a block that sc_block_sum can reduce: the length of its `warp_sums` array.
// A block reduced with it has a multiple of SC_WARP_SIZE threads, at most
// SC_WARP_SIZE * SC_BLOCK_SUM_MAX_WARPS.
#define SC_BLOCK_SUM_MAX_WARPS 32

// A load from global memory through L2 only (nvcc's __ldcg), for data other blocks of the
// same launch wrote: L1 is not coherent between SMs. The emulator runs blocks one after
// another, so a plain load is the same there.
#ifdef __CUDACC__
#define SC_LD_L2(p) __ldcg(p)
#else
#define SC_LD_L2(p) (*(p))
#endif

// Asynchronous copies from global to shared memory (PTX cp.async, sm_80 and newer; every
// arch satcolor builds has it): SC_CP_ASYNC_F32(dst, src, pred) copies the float at src to
// shared dst, or zero when pred is false (src is then not read: pass any valid address);
// SC_CP_ASYNC_COMMIT() closes the thread's group of copies issued since the last commit;
// SC_CP_ASYNC_WAIT(n) waits until at most the newest n of its committed groups are still
// in flight. A copy is visible to the thread after its wait, to the block after a barrier
// that follows the wait. Macros, so that each copy sits on its caller's source line for
// the time model (nvcc's LDGSTS and the emulator's global read alike). The emulator lands
// a copy only at the wait (emu/runtime.cpp), so reading early reads stale bytes.
#ifdef __CUDACC__
#define SC_CP_ASYNC_F32(dst, src, pred) \
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(static_cast<unsigned>(__cvta_generic_to_shared(dst))), "l"(src), "r"((pred) ? 4 : 0) : "memory")
#define SC_CP_ASYNC_COMMIT() asm volatile("cp.async.commit_group;" ::: "memory")
#define SC_CP_ASYNC_WAIT(n) asm volatile("cp.async.wait_group %0;" ::"n"(n) : "memory")
#else
#define SC_CP_ASYNC_F32(dst, src, pred) ::satcolor_emu::cp_async_f32((dst), (pred) ? *(src) : 0.0f)
#define SC_CP_ASYNC_COMMIT() ::satcolor_emu::cp_async_commit()
#define SC_CP_ASYNC_WAIT(n) ::satcolor_emu::cp_async_wait(n)
#endif

// Split K finished inside a kernel ("fold"): every block of an output tile stores its raw
// partial sums, then calls this with the tile's counter; it returns true in every thread of
// the block that arrives last, which then adds the tile's partial sums in split order (a
// fixed order: the result does not depend on which block is last). The fence before the
// count publishes this block's partial sums GPU-wide; the last block fences again before
// reading the others'. The last block puts the counter back to 0, so counters are 0
// between launches (the launch code allocates them zeroed, once) and a recorded graph can
// replay the launch. Every thread of the block must call it (it holds barriers).
static __device__ inline bool sc_fold_arrive(int* counter, int splits)
{
    __shared__ int s_last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        const bool last = atomicAdd(counter, 1) == splits - 1;
        if (last) *counter = 0;
        s_last = last;
    }
    __syncthreads();
    const bool last = s_last != 0;
    if (last) __threadfence();
    return last;
}

// Thread 0's store of its block's partial sum v of a two-launch reduction (reduce.cu,
// loss.cu, convex_skip.cu): partials[block] = v; with a one-block grid, partials is the
// one-element result itself and reduce_partials' work is done here: out = v, or with
// accumulate out + v, v first added to 0 as reduce_partials' tree adds it (the same bits).
static __device__ __forceinline__ void sc_store_partial(float* partials, float v, int accumulate)
{
    if (threadIdx.x != 0) return;
    if (gridDim.x > 1) {
        partials[blockIdx.x] = v;
        return;
    }
    const float s = v + 0.0f;
    partials[0] = accumulate ? partials[0] + s : s;
}

// Index 0..3 (row-major) of the first maximum of the 2 x 2 window whose top-left is `p`
// (rows `wd` apart): the max pooling's tie rule (kernels/max_pool2d.cu, conv_patch_body's
// pooled epilogue).
static __device__ inline int sc_window_argmax(const float* p, int wd)
{
    int best = 0;
    float m = p[0];
    if (p[1] > m) { m = p[1]; best = 1; }
    if (p[wd] > m) { m = p[wd]; best = 2; }
    if (p[wd + 1] > m) { best = 3; }
    return best;
}

// y = act(z).
static __device__ inline float sc_act(float z, int kind, float slope)
{
    if (kind == SC_ACT_RELU) return z > 0.0f ? z : 0.0f;
    if (kind == SC_ACT_LEAKY) return z > 0.0f ? z : slope * z;
    return z;
}

// act'(z) computed from the activation's output y (y > 0 exactly when z > 0).
static __device__ inline float sc_act_grad(float y, int kind, float slope)
{
    if (kind == SC_ACT_RELU) return y > 0.0f ? 1.0f : 0.0f;
    if (kind == SC_ACT_LEAKY) return y > 0.0f ? 1.0f : slope;
    return 1.0f;
}

// The logistic function, without overflow for large |z|.
static __device__ inline float sc_sigmoid(float z)
{
    if (z >= 0.0f) return 1.0f / (1.0f + expf(-z));
    const float e = expf(z);
    return e / (1.0f + e);
}

// Floor division for a possibly negative numerator and a positive divisor.
static __device__ inline int sc_floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Sum of `v` over a 1-D block whose size is a multiple of SC_WARP_SIZE (at most
// SC_WARP_SIZE * SC_BLOCK_SUM_MAX_WARPS): a shuffle tree inside each warp, then warp 0 adds
// the per-warp sums from `warp_sums` (shared, SC_BLOCK_SUM_MAX_WARPS floats). The order of
// additions depends only on thread indices, so the result is bit-identical whatever order
// the threads run in. The result is valid in thread 0.
// Every thread of the block must call it (it contains a barrier).
static __device__ inline float sc_block_sum(float v, float* warp_sums)
{
    for (int off = SC_WARP_SIZE / 2; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    const int lane = threadIdx.x % SC_WARP_SIZE;
    const int warp = threadIdx.x / SC_WARP_SIZE;
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int nwarps = blockDim.x / SC_WARP_SIZE;
        v = lane < nwarps ? warp_sums[lane] : 0.0f;
        for (int off = SC_WARP_SIZE / 2; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    }
    return v;
}
