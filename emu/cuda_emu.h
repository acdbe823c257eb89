// satcolor's CUDA emulator shim: force-included (`-include cuda_emu.h`) when g++ compiles a
// kernels/*.cu file as host C++ (`-DSATCOLOR_EMU`). It maps the CUDA execution model onto
// emu/runtime.cpp, which runs every CUDA thread of a block as a fiber on one OS thread:
//
// - `threadIdx`, `blockIdx`, `blockDim`, `gridDim` are globals that the runtime sets before
//   it switches to a thread's fiber, so each CUDA thread sees its own indices;
// - `__shared__` is a plain `static`: blocks run one after another on one OS thread, so one
//   copy is correct, and AddressSanitizer sees overflows of it as global-buffer overflows;
// - dynamic shared memory is `SATCOLOR_DYNAMIC_SHARED(type, name);` inside a kernel body
//   (kernels/common.cuh maps it to `extern __shared__ type name[]` under nvcc);
// - `__syncthreads*` is a rendezvous of the whole block, `__syncwarp` and the `__shfl_*_sync`,
//   `__ballot_sync`, `__any_sync`, `__all_sync` family a rendezvous of the lanes named in the
//   mask: warps do not run in lockstep, so a missing barrier changes results;
// - the tensor-core instruction `mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32` (which
//   kernels/mma.cuh wraps) is a rendezvous of all 32 lanes at the same call site: the
//   fragments are gathered in PTX's documented per-lane layout, the products of the TF32
//   operands (their low 13 bits ignored) summed exactly and rounded once to f32; a lane that
//   exited, a partial warp or two call sites are errors, as the GPU requires;
// - atomics are plain read-modify-writes (one fiber runs at a time);
// - `__half` is gcc's `_Float16`, every intrinsic rounding its result to nearest even as the
//   GPU's fp16 add/multiply do.
#pragma once

#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <math.h>

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#if SATCOLOR_EMU_COUNTERS
// In one section, so that the counters tell shared from global accesses by address.
#define __shared__ static __attribute__((section("satcolor_shared")))
#else
#define __shared__ static
#endif

/// CUDA's `uint3`: a thread or block index.
struct uint3 {
    unsigned int x, y, z;
};

/// CUDA's `dim3`: a grid or block size (missing components are 1).
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace satcolor_emu {
/// Index of the running CUDA thread within its block (set by the runtime on every switch).
extern uint3 thread_idx;
/// Index of the running block.
extern uint3 block_idx;
/// Size of every block of the launch.
extern dim3 block_dim;
/// Size of the grid of the launch.
extern dim3 grid_dim;
/// The block's dynamic shared memory (exactly the launch's dynamic size).
extern unsigned char* dynamic_shared;

/// Kinds of block-wide barrier: all threads of a block must wait at the same kind and site.
enum BlockBarrier { kSync = 0, kSyncCount = 1, kSyncAnd = 2, kSyncOr = 3 };
/// Warp intrinsics: a rendezvous of the lanes of the mask.
enum WarpOp { kSyncWarp = 0, kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll, kMmaTf32 };

/// Waits until every thread of the block arrives; returns the count/and/or of `pred`.
int block_barrier(int kind, int pred, const char* file, int line);
/// Waits until every non-exited lane of `mask` arrives; returns this lane's result.
uint64_t warp_op(int op, unsigned mask, uint64_t value, int param, int width, const char* file,
                 int line);
/// One lane's part of `mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32`: its fragments
/// a (4 TF32), b (2 TF32) and the accumulators d (4 f32, read as c and overwritten with d),
/// in PTX's layout; returns when the warp's product is done.
void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2], const char* file,
                      int line);
/// PTX's `cvt.rna.tf32.f32`: `v` rounded to TF32 (10 mantissa bits; to nearest, ties away
/// from zero), as a 32-bit pattern whose low 13 bits are zero.
inline uint32_t cvt_rna_tf32(float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    if ((b & 0x7f800000u) == 0x7f800000u) return (b & 0x007fffffu) ? 0x7fffffffu : b;
    return (b + 0x1000u) & 0xffffe000u;
}
/// One lane's `cp.async` of 4 bytes: `v` (read from global memory by the caller, on the
/// kernel's line) lands at `dst` when the lane waits for the copy's group.
void cp_async_f32(float* dst, float v);
/// `cp.async.commit_group`: the lane's uncommitted copies become its newest group.
void cp_async_commit();
/// `cp.async.wait_group pending`: lands every committed group of the lane but the newest
/// `pending`.
void cp_async_wait(int pending);
/// Ends the launch with an error (CUDA's `__trap()`).
[[noreturn]] void trap(const char* file, int line);

template <class T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T>
inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
}  // namespace satcolor_emu

#define threadIdx (static_cast<const uint3&>(::satcolor_emu::thread_idx))
#define blockIdx (static_cast<const uint3&>(::satcolor_emu::block_idx))
#define blockDim (static_cast<const dim3&>(::satcolor_emu::block_dim))
#define gridDim (static_cast<const dim3&>(::satcolor_emu::grid_dim))
constexpr int warpSize = 32;

// A lambda with a capture-default is rejected at namespace scope, so this only compiles
// inside a function, where the pointer is read at each kernel entry.
#define SATCOLOR_DYNAMIC_SHARED(type, name) \
    type* const name = [&]() { return reinterpret_cast<type*>(::satcolor_emu::dynamic_shared); }()

// ---- barriers and warp intrinsics ------------------------------------------------------

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    satcolor_emu::block_barrier(satcolor_emu::kSync, 0, file, line);
}
inline int __syncthreads_count(int pred, const char* file = __builtin_FILE(),
                               int line = __builtin_LINE()) {
    return satcolor_emu::block_barrier(satcolor_emu::kSyncCount, pred, file, line);
}
inline int __syncthreads_and(int pred, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
    return satcolor_emu::block_barrier(satcolor_emu::kSyncAnd, pred, file, line);
}
inline int __syncthreads_or(int pred, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE()) {
    return satcolor_emu::block_barrier(satcolor_emu::kSyncOr, pred, file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
    satcolor_emu::warp_op(satcolor_emu::kSyncWarp, mask, 0, 0, warpSize, file, line);
}
template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return satcolor_emu::from_bits<T>(satcolor_emu::warp_op(
        satcolor_emu::kShflIdx, mask, satcolor_emu::to_bits(var), src_lane, width, file, line));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                        const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return satcolor_emu::from_bits<T>(satcolor_emu::warp_op(satcolor_emu::kShflUp, mask,
                                                            satcolor_emu::to_bits(var),
                                                            static_cast<int>(delta), width, file, line));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return satcolor_emu::from_bits<T>(satcolor_emu::warp_op(satcolor_emu::kShflDown, mask,
                                                            satcolor_emu::to_bits(var),
                                                            static_cast<int>(delta), width, file, line));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return satcolor_emu::from_bits<T>(satcolor_emu::warp_op(
        satcolor_emu::kShflXor, mask, satcolor_emu::to_bits(var), lane_mask, width, file, line));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
    return static_cast<unsigned>(
        satcolor_emu::warp_op(satcolor_emu::kBallot, mask, pred != 0, 0, warpSize, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
    return static_cast<int>(
        satcolor_emu::warp_op(satcolor_emu::kAny, mask, pred != 0, 0, warpSize, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
    return static_cast<int>(
        satcolor_emu::warp_op(satcolor_emu::kAll, mask, pred != 0, 0, warpSize, file, line));
}
inline void __trap(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    satcolor_emu::trap(file, line);
}
inline void __threadfence() {}
inline void __threadfence_block() {}

// ---- atomics: one fiber runs at a time, so a plain read-modify-write is atomic ---------

template <class T>
inline T satcolor_emu_atomic_add(T* a, T v) {
    T old = *a;
    *a = old + v;
    return old;
}
inline float atomicAdd(float* a, float v) { return satcolor_emu_atomic_add(a, v); }
inline double atomicAdd(double* a, double v) { return satcolor_emu_atomic_add(a, v); }
inline int atomicAdd(int* a, int v) {
    // Wraps like the GPU (no signed-overflow UB).
    return static_cast<int>(satcolor_emu_atomic_add(reinterpret_cast<unsigned*>(a), static_cast<unsigned>(v)));
}
inline unsigned atomicAdd(unsigned* a, unsigned v) { return satcolor_emu_atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
    return satcolor_emu_atomic_add(a, v);
}
inline int atomicSub(int* a, int v) { return atomicAdd(a, -v); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return atomicAdd(a, 0u - v); }
template <class T>
inline T satcolor_emu_atomic_exch(T* a, T v) {
    T old = *a;
    *a = v;
    return old;
}
inline int atomicExch(int* a, int v) { return satcolor_emu_atomic_exch(a, v); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return satcolor_emu_atomic_exch(a, v); }
inline float atomicExch(float* a, float v) { return satcolor_emu_atomic_exch(a, v); }
inline unsigned long long atomicExch(unsigned long long* a, unsigned long long v) {
    return satcolor_emu_atomic_exch(a, v);
}
template <class T>
inline T satcolor_emu_atomic_cas(T* a, T compare, T v) {
    T old = *a;
    if (old == compare) *a = v;
    return old;
}
inline int atomicCAS(int* a, int c, int v) { return satcolor_emu_atomic_cas(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return satcolor_emu_atomic_cas(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c, unsigned long long v) {
    return satcolor_emu_atomic_cas(a, c, v);
}
template <class T>
inline T satcolor_emu_atomic_max(T* a, T v) {
    T old = *a;
    if (v > old) *a = v;
    return old;
}
template <class T>
inline T satcolor_emu_atomic_min(T* a, T v) {
    T old = *a;
    if (v < old) *a = v;
    return old;
}
inline int atomicMax(int* a, int v) { return satcolor_emu_atomic_max(a, v); }
inline unsigned atomicMax(unsigned* a, unsigned v) { return satcolor_emu_atomic_max(a, v); }
inline int atomicMin(int* a, int v) { return satcolor_emu_atomic_min(a, v); }
inline unsigned atomicMin(unsigned* a, unsigned v) { return satcolor_emu_atomic_min(a, v); }
inline int atomicAnd(int* a, int v) { int o = *a; *a = o & v; return o; }
inline int atomicOr(int* a, int v) { int o = *a; *a = o | v; return o; }
inline int atomicXor(int* a, int v) { int o = *a; *a = o ^ v; return o; }
inline unsigned atomicAnd(unsigned* a, unsigned v) { unsigned o = *a; *a = o & v; return o; }
inline unsigned atomicOr(unsigned* a, unsigned v) { unsigned o = *a; *a = o | v; return o; }
inline unsigned atomicXor(unsigned* a, unsigned v) { unsigned o = *a; *a = o ^ v; return o; }

// ---- __half: _Float16; float holds every sum/product of two halves to within 2p+2 bits,
// so rounding the float result once more to half is the correctly rounded fp16 result ----

/// CUDA's `__half`, stored as gcc's `_Float16`.
struct __half {
    _Float16 v;
    __half() = default;
    __half(float f) : v(static_cast<_Float16>(f)) {}
    operator float() const { return static_cast<float>(v); }
};
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return static_cast<float>(h.v); }
inline __half __hadd(__half a, __half b) { return __half(static_cast<float>(a.v) + static_cast<float>(b.v)); }
inline __half __hsub(__half a, __half b) { return __half(static_cast<float>(a.v) - static_cast<float>(b.v)); }
inline __half __hmul(__half a, __half b) { return __half(static_cast<float>(a.v) * static_cast<float>(b.v)); }
inline __half __hneg(__half a) { return __half(-static_cast<float>(a.v)); }
inline __half operator+(__half a, __half b) { return __hadd(a, b); }
inline __half operator-(__half a, __half b) { return __hsub(a, b); }
inline __half operator*(__half a, __half b) { return __hmul(a, b); }
/// The bits of a half, and the half of some bits (CUDA's reinterpreting casts).
inline unsigned short __half_as_ushort(__half h) { unsigned short b; std::memcpy(&b, &h.v, 2); return b; }
inline __half __ushort_as_half(unsigned short b) { __half h; std::memcpy(&h.v, &b, 2); return h; }

// ---- CUDA vector types -----------------------------------------------------------------

struct alignas(8) float2 { float x, y; };
struct float3 { float x, y, z; };
/// gcc's 16-byte vector, through which float4 copies: one 16-byte access, as the GPU's
/// 128-bit LDS/LDG/STS/STG (the counters see one access per lane, not four).
typedef float satcolor_emu_v4 __attribute__((vector_size(16)));
struct alignas(16) float4 {
    float x, y, z, w;
    float4() = default;
    constexpr float4(float x_, float y_, float z_, float w_) : x(x_), y(y_), z(z_), w(w_) {}
    float4(const float4& o) {
        const satcolor_emu_v4 v = *reinterpret_cast<const satcolor_emu_v4*>(&o);
        __builtin_memcpy(this, &v, sizeof v);
    }
    float4& operator=(const float4& o) {
        *reinterpret_cast<satcolor_emu_v4*>(this) = *reinterpret_cast<const satcolor_emu_v4*>(&o);
        return *this;
    }
};
struct alignas(8) int2 { int x, y; };
/// gcc's 16-byte integer vector, through which int4 copies (as float4 does).
typedef int satcolor_emu_i4 __attribute__((vector_size(16)));
struct alignas(16) int4 {
    int x, y, z, w;
    int4() = default;
    constexpr int4(int x_, int y_, int z_, int w_) : x(x_), y(y_), z(z_), w(w_) {}
    int4(const int4& o) {
        const satcolor_emu_i4 v = *reinterpret_cast<const satcolor_emu_i4*>(&o);
        __builtin_memcpy(this, &v, sizeof v);
    }
    int4& operator=(const int4& o) {
        *reinterpret_cast<satcolor_emu_i4*>(this) = *reinterpret_cast<const satcolor_emu_i4*>(&o);
        return *this;
    }
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// ---- device math and bit intrinsics (fast-math variants use the accurate libm call) ----

template <class T>
inline T __ldg(const T* p) { return *p; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x != x ? 0.0f : fminf(fmaxf(x, 0.0f), 1.0f); }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline float __int2float_rn(int i) { return static_cast<float>(i); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
