// The block-tile machinery of satcolor's implicit-GEMM convolutions (kernels/conv2d.cu):
// C[BM x BN] += A[BM x K] * B[K x BN] with both operands staged in shared memory, K-major
// (a[r][m], b[r][n]), SC_IG_BK rows at a time, in two buffers: while the block multiplies
// one, its threads hold the next step's global loads in registers and then store them
// into the other, so one barrier per step suffices.
//
// Tiles: BM x BN = 256 * TM * SC_IG_TN, so that SC_IG_THREADS = 256 threads each own a
// TM x 4 micro-tile (TM = 1, 4 or 8: 256 x 4, 256 x 16, 64 x 64, 32 x 128, 256 x 32,
// 128 x 64).
// Thread mapping: a warp covers 8 row groups x 4 column groups (32 x 1 when the tile has
// one column group); thread (tm, tn) owns columns tn*4 .. tn*4 + 3 and the rows
// sc_ig_row(tm, i): a warp's 128-bit shared loads read consecutive float4 of a row of a,
// and at most 4 distinct float4 of b, one wavefront each.
// Each output is the sum over k in increasing order (one FMA per k), so a result does not
// depend on the thread or block order. With tensor cores (template parameter P,
// kernels/mma.cuh) each warp computes a 32 x WN part of the tile with mma.sync, 8 k-rows
// per instruction; the order is then the instruction's, still fixed by the shape alone.
#pragma once

#include "mma.cuh"

// Depth (K) of one staged step.
#define SC_IG_BK 8
// Columns of one thread's micro-tile (its rows, TM, are a template parameter: 1, 4 or 8).
#define SC_IG_TN 4
// Threads of an implicit-GEMM block.
#define SC_IG_THREADS 256
// Blocks per SM each kernel is compiled for (__launch_bounds__): 65536 / (256 * blocks)
// registers per thread at most, the most blocks that leave each instance without spills
// on every arch (tests/kernel_resources.rs) — 4 blocks (64 registers) let G's 512-tile
// weight-gradient grids run in one wave.
#define SC_IG_MIN_BLOCKS_256X32 2
#define SC_IG_MIN_BLOCKS_128X64 2
#define SC_IG_MIN_BLOCKS_256X16 2
#define SC_IG_MIN_BLOCKS_256X4 3
#define SC_IG_MIN_BLOCKS_WGRAD_64X64 4
#define SC_IG_MIN_BLOCKS_WGRAD_32X128 4
// (3xTF32 holds low parts too: at 64 registers its 32 x 128 weight gradient spills on sm_80.)
#define SC_IG_MIN_BLOCKS_WGRAD_32X128_3XTF32 3
#define SC_IG_MIN_BLOCKS_WGRAD_32X64 4
#define SC_IG_MIN_BLOCKS_WGRAD_64X128 2
#define SC_IG_MIN_BLOCKS_WGRAD_128X128 2
// Extra floats per staged row: a row pitch of B + 4 keeps float4 rows aligned and makes
// the staging stores of 8 k-rows x 4 columns per warp hit 32 distinct banks.
#define SC_IG_PAD 4
// The same for the tensor-core paths: a pitch of 8 (mod 32) floats makes a warp's fragment
// loads (k-rows t and t + 4, columns g: 4 x 8 lanes) hit 32 distinct banks; the staging
// stores then take two wavefronts.
#define SC_IG_MMA_PAD 8

// The row padding of precision P's staging buffers.
template <int P>
struct sc_ig_pad {
    static constexpr int v = P == SC_PREC_FP32 ? SC_IG_PAD : SC_IG_MMA_PAD;
};

// The two staging buffers of an operand with B columns, for precision P.
template <int B, int P>
struct sc_ig_stage {
    float v[2][SC_IG_BK][B + sc_ig_pad<P>::v];
};

// Warp layout of a BM x BN tile of TM x SC_IG_TN micro-tiles: a warp covers lanes_n
// column groups (4, or fewer when the tile has fewer) and 32 / lanes_n row groups.
template <int BN>
struct sc_ig_lanes {
    static constexpr int n = BN / SC_IG_TN < 4 ? BN / SC_IG_TN : 4;
    static constexpr int m = 32 / n;
};

// The tile row of row i of row group tm's micro-tile: TM < 4 rows are consecutive; a
// multiple of 4 comes as TM / 4 runs of 4 rows, BM * 4 / TM rows apart, so that each
// 128-bit shared load of a warp reads consecutive float4 (one wavefront).
template <int BM, int TM>
static __device__ __forceinline__ int sc_ig_row(int tm, int i)
{
    return TM < 4 ? tm * TM + i : (i / 4) * (BM * 4 / TM) + tm * 4 + i % 4;
}

// This thread's share of a block's BM x BN accumulator tile: v[i][j] is the element at
// tile row row(i), column col(j).
// - FP32 (P = SC_PREC_FP32): a TM x SC_IG_TN micro-tile; the warp covers 8 row groups x 4
//   column groups (sc_ig_lanes), thread (tm, tn) owning columns tn*4 .. tn*4 + 3 and rows
//   sc_ig_row(tm, i).
// - Tensor cores: the 8 warps tile the block as (BM / 32) x (8 * 32 / BM) warp tiles of
//   32 x WN; a warp tile is 2 x WN / 8 mma tiles of 16 x 8 (kernels/mma.cuh), and lane
//   4*g + t holds rows g, g + 8 of each and columns 2t, 2t + 1: row(i) = warp row + (i / 2)*16
//   + g + (i % 2)*8, col(j) = warp column + (j / 2)*8 + 2t + j % 2.
template <int BM, int BN, int TM, int P>
struct sc_ig_frag {
    static constexpr bool MMA = P != SC_PREC_FP32;
    static constexpr int WARPS_M = BM / 32;
    static constexpr int WN = MMA ? BN * WARPS_M / (SC_IG_THREADS / 32) : 1;
    static constexpr int R = MMA ? 4 : TM;
    static constexpr int C = MMA ? WN / 4 : SC_IG_TN;
    static_assert(!MMA || (BM % 32 == 0 && WN % 8 == 0 && WN * (SC_IG_THREADS / 32) == BN * WARPS_M), "the warp tiles do not fill the block");
    static_assert(R * C * SC_IG_THREADS == BM * BN, "the fragments do not fill the tile");
    // FP32: the row and column group (tm, tn); MMA: the thread's first row and column.
    int r0, c0;
    // MMA: offsets of the thread's first A and B fragment elements (k-row t, row or column
    // warp origin + g) in a staging buffer, computed once.
    int a_off, b_off;
    float v[R][C];

    __device__ __forceinline__ void init()
    {
        const int warp = threadIdx.x / 32;
        const int lane = threadIdx.x % 32;
        if (MMA) {
            r0 = (warp % WARPS_M) * 32 + lane / 4;
            c0 = (warp / WARPS_M) * WN + 2 * (lane % 4);
            a_off = (lane % 4) * (BM + SC_IG_MMA_PAD) + r0;
            b_off = (lane % 4) * (BN + SC_IG_MMA_PAD) + (warp / WARPS_M) * WN + lane / 4;
        } else {
            constexpr int warps_m = BM / TM / sc_ig_lanes<BN>::m;
            static_assert(MMA || warps_m * (BN / SC_IG_TN / sc_ig_lanes<BN>::n) * 32 == SC_IG_THREADS, "tile and micro-tile do not fill the block");
            r0 = (warp % warps_m) * sc_ig_lanes<BN>::m + lane % sc_ig_lanes<BN>::m;
            c0 = (warp / warps_m) * sc_ig_lanes<BN>::n + lane / sc_ig_lanes<BN>::m;
        }
#pragma unroll
        for (int i = 0; i < R; ++i) {
#pragma unroll
            for (int j = 0; j < C; ++j) v[i][j] = 0.0f;
        }
    }
    __device__ __forceinline__ int row(int i) const
    {
        return MMA ? r0 + (i / 2) * 16 + (i % 2) * 8 : sc_ig_row<BM, TM>(r0, i);
    }
    __device__ __forceinline__ int col(int j) const
    {
        return MMA ? c0 + (j / 2) * 8 + j % 2 : c0 * SC_IG_TN + j;
    }
};

// What precision P stages in shared memory for an operand value: the value itself, or
// for TF32 its TF32 rounding (once per element, not once per fragment load).
template <int P>
static __device__ __forceinline__ float sc_ig_prep(float v)
{
    return P == SC_PREC_TF32 ? __uint_as_float(sc_tf32(v)) : v;
}

// FP32: acc[i][j] += sum over the SC_IG_BK rows r of a[r][row(i)] * b[r][col(j)], r in
// order, one FMA per r.
template <int BM, int BN, int TM, int P>
static __device__ __forceinline__ void sc_ig_multiply_fp32(const float (*a)[BM + SC_IG_PAD], const float (*b)[BN + SC_IG_PAD], sc_ig_frag<BM, BN, TM, P>& acc)
{
    const int tm = acc.r0;
    const int tn = acc.c0;
#pragma unroll
    for (int r = 0; r < SC_IG_BK; ++r) {
        float as[TM];
        if (TM < 4) {
#pragma unroll
            for (int i = 0; i < TM; ++i) as[i] = a[r][tm * TM + i];
        } else {
#pragma unroll
            for (int q = 0; q < TM / 4; ++q) {
                const float4 av = *reinterpret_cast<const float4*>(&a[r][sc_ig_row<BM, TM>(tm, 4 * q)]);
                as[4 * q] = av.x;
                as[4 * q + 1] = av.y;
                as[4 * q + 2] = av.z;
                as[4 * q + 3] = av.w;
            }
        }
        const float4 bv = *reinterpret_cast<const float4*>(&b[r][tn * SC_IG_TN]);
        const float bs[SC_IG_TN] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
        for (int i = 0; i < TM; ++i) {
#pragma unroll
            for (int j = 0; j < SC_IG_TN; ++j) acc.v[i][j] += as[i] * bs[j];
        }
    }
}

// Tensor cores, one k-step of 8 for a warp: acc[2*mt + h][2*nt + e] (the d[2*h + e] of mma
// tile (mt, nt), kernels/mma.cuh) += A fragment fa[mt] times B fragment fb[nt] for every
// (mt, nt). TF32 (P = SC_PREC_TF32): the fragments hold values already rounded to TF32
// (staged through sc_ig_prep), one mma per tile. 3xTF32: each value v is split into
// hi = tf32(v) and lo = tf32(v - hi), and a*b ~ a_lo*b_hi + a_hi*b_lo + a_hi*b_hi, three
// mma per tile (lo*lo, below FP32's rounding, is dropped).
template <int P, int MT, int NT>
static __device__ __forceinline__ void sc_mma_tiles(float (&acc)[2 * MT][2 * NT], const float (&fa)[MT][4], const float (&fb)[NT][2])
{
    unsigned ha[MT][4], hb[NT][2], la[MT][4], lb[NT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            ha[mt][e] = P == SC_PREC_TF32 ? __float_as_uint(fa[mt][e]) : sc_tf32(fa[mt][e]);
            la[mt][e] = P == SC_PREC_TF32 ? 0u : sc_tf32(fa[mt][e] - __uint_as_float(ha[mt][e]));
        }
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            hb[nt][e] = P == SC_PREC_TF32 ? __float_as_uint(fb[nt][e]) : sc_tf32(fb[nt][e]);
            lb[nt][e] = P == SC_PREC_TF32 ? 0u : sc_tf32(fb[nt][e] - __uint_as_float(hb[nt][e]));
        }
    }
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            float d[4] = {acc[2 * mt][2 * nt], acc[2 * mt][2 * nt + 1], acc[2 * mt + 1][2 * nt], acc[2 * mt + 1][2 * nt + 1]};
            if (P == SC_PREC_3XTF32) {
                sc_mma_tf32(d, la[mt], hb[nt]);
                sc_mma_tf32(d, ha[mt], lb[nt]);
            }
            sc_mma_tf32(d, ha[mt], hb[nt]);
            acc[2 * mt][2 * nt] = d[0];
            acc[2 * mt][2 * nt + 1] = d[1];
            acc[2 * mt + 1][2 * nt] = d[2];
            acc[2 * mt + 1][2 * nt + 1] = d[3];
        }
    }
}

// Tensor cores: the warp's 32 x WN tile += its rows of a times its columns of b over the
// SC_IG_BK = 8 k-rows (sc_mma_tiles: one mma per 16 x 8 tile, three for 3xTF32).
template <int BM, int BN, int TM, int P>
static __device__ __forceinline__ void sc_ig_multiply_mma(const float (*a)[BM + SC_IG_MMA_PAD], const float (*b)[BN + SC_IG_MMA_PAD], sc_ig_frag<BM, BN, TM, P>& acc)
{
    using F = sc_ig_frag<BM, BN, TM, P>;
    constexpr int NT = F::WN / 8;
    constexpr int PA = BM + SC_IG_MMA_PAD;
    constexpr int PB = BN + SC_IG_MMA_PAD;
    const float* ap = &a[0][0] + acc.a_off;  // a[t][warp row + g]
    const float* bp = &b[0][0] + acc.b_off;  // b[t][warp column + g]
    float fa[2][4], fb[NT][2];
#pragma unroll
    for (int mt = 0; mt < 2; ++mt) {
        fa[mt][0] = ap[mt * 16];
        fa[mt][1] = ap[mt * 16 + 8];
        fa[mt][2] = ap[4 * PA + mt * 16];
        fa[mt][3] = ap[4 * PA + mt * 16 + 8];
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
        fb[nt][0] = bp[nt * 8];
        fb[nt][1] = bp[4 * PB + nt * 8];
    }
    sc_mma_tiles<P, 2, NT>(acc.v, fa, fb);
}

// The main loop of a block: acc = the sum over `depth` k-rows (none if depth <= 0), in
// steps of SC_IG_BK k-rows (a last partial step's missing rows staged as zeros). load() fetches
// the current step's operands from global memory into the thread's registers, store(buf)
// writes them into staging buffer buf (through sc_ig_prep<P>), advance() moves the
// thread's k-rows on by one step. The first step is staged before the loop; inside it,
// step s + 1's loads are issued before step s is multiplied, and one barrier ends each
// step. Every thread of the block must call it (it contains barriers, and the tensor-core
// paths warp-wide mma).
template <int BM, int BN, int TM, int P, class Load, class Store, class Advance>
static __device__ __forceinline__ void sc_ig_main_loop(int depth, sc_ig_stage<BM, P>& s_a, sc_ig_stage<BN, P>& s_b, sc_ig_frag<BM, BN, TM, P>& acc, Load load, Store store, Advance advance)
{
    acc.init();
    const int steps = depth > 0 ? (depth + SC_IG_BK - 1) / SC_IG_BK : 0;
    if (steps > 0) {
        load();
        store(0);
    }
    __syncthreads();
    for (int s = 0; s < steps; ++s) {
        const bool more = s + 1 < steps;
        if (more) {
            advance();
            load();
        }
        if constexpr (P == SC_PREC_FP32) {
            sc_ig_multiply_fp32<BM, BN, TM, P>(s_a.v[s % 2], s_b.v[s % 2], acc);
        } else {
            sc_ig_multiply_mma<BM, BN, TM, P>(s_a.v[s % 2], s_b.v[s % 2], acc);
        }
        if (more) store((s + 1) % 2);
        __syncthreads();
    }
}

// The main loop with cp.async staging, for the paths that stage their operands as they are
// (FP32 and 3xTF32; TF32 rounds each value as it stages it, in sc_ig_main_loop's store):
// issue(buf) starts the copies of the current step's operands into staging buffer buf
// (SC_CP_ASYNC_F32, zeros for missing rows), advance() moves the thread's k-rows on by
// one step, visit(buf) sees a step's staged operands once they are complete (the weight
// gradient's bias sums). Step s: wait for the thread's copies, one barrier (step s's buffer
// complete and visible; every warp done with step s - 1's, the other buffer), issue step
// s + 1 into the other buffer so that its loads fly while step s is multiplied. The same
// sums in the same order as sc_ig_main_loop. Every thread of the block must call it.
template <int BM, int BN, int TM, int P, class Issue, class Advance, class Visit>
static __device__ __forceinline__ void sc_ig_main_loop_async(int depth, sc_ig_stage<BM, P>& s_a, sc_ig_stage<BN, P>& s_b, sc_ig_frag<BM, BN, TM, P>& acc, Issue issue, Advance advance, Visit visit)
{
    static_assert(P != SC_PREC_TF32, "TF32 rounds its operands as it stages them: sc_ig_main_loop");
    acc.init();
    const int steps = depth > 0 ? (depth + SC_IG_BK - 1) / SC_IG_BK : 0;
    if (steps > 0) {
        issue(0);
        SC_CP_ASYNC_COMMIT();
    }
    for (int s = 0; s < steps; ++s) {
        SC_CP_ASYNC_WAIT(0);
        __syncthreads();
        if (s + 1 < steps) {
            advance();
            issue((s + 1) % 2);
            SC_CP_ASYNC_COMMIT();
        }
        visit(s % 2);
        if constexpr (P == SC_PREC_FP32) {
            sc_ig_multiply_fp32<BM, BN, TM, P>(s_a.v[s % 2], s_b.v[s % 2], acc);
        } else {
            sc_ig_multiply_mma<BM, BN, TM, P>(s_a.v[s % 2], s_b.v[s % 2], acc);
        }
    }
}
