// 16-bit storage for reduced-precision inference (`colorize --precision bf16|fp16`): buffers
// of `unsigned short` holding bfloat16 or IEEE binary16 bits, the format passed to each
// kernel as `fmt`. A kernel loads a value into a float (exact for both formats), computes in
// FP32 (or on TF32 tensor cores, whose operands hold either format exactly, so every product
// is exact and only the FP32 accumulation rounds), and rounds once, to nearest even, when it
// stores. The host converts the same way (the `half` crate), so a value round-trips.
#pragma once

#include <cuda_fp16.h>

// The `fmt` codes of the 16-bit kernels (`Storage::code` in src/device/precision.rs).
#define SC_FMT_BF16 1
#define SC_FMT_FP16 2

// The float a 16-bit value of format fmt holds.
static __device__ __forceinline__ float sc_h16_to_f32(unsigned short b, int fmt)
{
    return fmt == SC_FMT_BF16 ? __uint_as_float((unsigned)b << 16) : __half2float(__ushort_as_half(b));
}

// v rounded to format fmt, to nearest even: bf16 keeps a float's top 16 bits, adding half an
// ulp of them (less one when the kept part is even) first; a NaN stays a (quiet) NaN.
static __device__ __forceinline__ unsigned short sc_f32_to_h16(float v, int fmt)
{
    if (fmt == SC_FMT_BF16) {
        const unsigned u = __float_as_uint(v);
        if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
        return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return __half_as_ushort(__float2half_rn(v));
}

// Loads and stores through either storage, so one kernel body serves f32 and 16-bit
// buffers: float passes through (fmt unused), unsigned short converts.
static __device__ __forceinline__ float sc_ld(const float* p, int) { return *p; }
static __device__ __forceinline__ float sc_ld(const unsigned short* p, int fmt) { return sc_h16_to_f32(*p, fmt); }
static __device__ __forceinline__ void sc_st(float* p, float v, int) { *p = v; }
static __device__ __forceinline__ void sc_st(unsigned short* p, float v, int fmt) { *p = sc_f32_to_h16(v, fmt); }

// The same conversions on values, for a loop that loads and stores on its own source line:
// the time model (src/perf/model.rs) counts a loop's trips by the requests of its lines, and
// a line of sc_ld or sc_st is shared by every loop that calls it.
static __device__ __forceinline__ float sc_f32(float v, int) { return v; }
static __device__ __forceinline__ float sc_f32(unsigned short b, int fmt) { return sc_h16_to_f32(b, fmt); }
template <class T>
static __device__ __forceinline__ T sc_to(float v, int fmt)
{
    if constexpr (sizeof(T) == sizeof(float)) {
        return v;
    } else {
        return sc_f32_to_h16(v, fmt);
    }
}
