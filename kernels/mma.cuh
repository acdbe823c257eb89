// Tensor-core primitives of satcolor's TF32 paths (sm_80 and newer): PTX's
// `mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32` and `cvt.rna.tf32.f32`, as inline PTX
// under nvcc and as the emulator's warp-wide implementation of the same instructions under
// SATCOLOR_EMU (emu/cuda_emu.h), so kernels call one name on both.
//
// Fragment layout of sc_mma_tf32 (PTX ISA, "Matrix fragments for mma.m16n8k8", .tf32):
// lane l = 4*g + t (g = l / 4, t = l % 4) of the warp holds
//   a[0] = A[g][t], a[1] = A[g+8][t], a[2] = A[g][t+4], a[3] = A[g+8][t+4]   (A: 16 x 8)
//   b[0] = B[t][g], b[1] = B[t+4][g]                                         (B: 8 x 8)
//   d[0], d[1] = D[g][2t], D[g][2t+1]; d[2], d[3] = D[g+8][2t], D[g+8][2t+1] (D: 16 x 8)
// and D = A*B + D with f32 accumulation. All 32 lanes must execute the same call
// (`.aligned`): never call it under a condition that differs between the lanes of a warp.
#pragma once

// Precisions of the implicit-GEMM kernels (their template parameter P, and the
// `precision` codes of src/ops/precision.rs): FP32 FMAs; TF32 tensor cores (operands
// rounded to TF32, f32 accumulation); 3xTF32 (each operand split into a TF32 high and low
// part, three tensor-core products: near-f32 accuracy).
#define SC_PREC_FP32 0
#define SC_PREC_TF32 1
#define SC_PREC_3XTF32 2

#ifdef SATCOLOR_EMU

// `v` rounded to TF32 (to nearest, ties away from zero): a 32-bit pattern, low 13 bits zero.
static __device__ __forceinline__ unsigned sc_tf32(float v)
{
    return satcolor_emu::cvt_rna_tf32(v);
}

// d = a*b + d over the warp (see the layout above).
static __device__ __forceinline__ void sc_mma_tf32(float d[4], const unsigned a[4], const unsigned b[2], const char* file = __builtin_FILE(), int line = __builtin_LINE())
{
    satcolor_emu::mma_m16n8k8_tf32(d, a, b, file, line);
}

#else

static __device__ __forceinline__ unsigned sc_tf32(float v)
{
#if __CUDA_ARCH__ >= 800
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
    return r;
#else
    __trap();
    return 0u;
#endif
}

static __device__ __forceinline__ void sc_mma_tf32(float d[4], const unsigned a[4], const unsigned b[2])
{
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    __trap();
#endif
}

#endif
