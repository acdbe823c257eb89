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
// depend on the thread or block order.
#pragma once

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
// Extra floats per staged row: a row pitch of B + 4 keeps float4 rows aligned and makes
// the staging stores of 8 k-rows x 4 columns per warp hit 32 distinct banks.
#define SC_IG_PAD 4

// The two staging buffers of an operand with B columns.
template <int B>
struct sc_ig_stage {
    float v[2][SC_IG_BK][B + SC_IG_PAD];
};

// Warp layout of a BM x BN tile of TM x SC_IG_TN micro-tiles: a warp covers lanes_n
// column groups (4, or fewer when the tile has fewer) and 32 / lanes_n row groups.
template <int BN>
struct sc_ig_lanes {
    static constexpr int n = BN / SC_IG_TN < 4 ? BN / SC_IG_TN : 4;
    static constexpr int m = 32 / n;
};

// The row-group index tm and column-group index tn of this thread's micro-tile.
template <int BM, int BN, int TM>
static __device__ inline void sc_ig_thread(int* tm, int* tn)
{
    constexpr int warps_m = BM / TM / sc_ig_lanes<BN>::m;
    static_assert(warps_m * (BN / SC_IG_TN / sc_ig_lanes<BN>::n) * 32 == SC_IG_THREADS, "tile and micro-tile do not fill the block");
    const int warp = threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    *tm = (warp % warps_m) * sc_ig_lanes<BN>::m + lane % sc_ig_lanes<BN>::m;
    *tn = (warp / warps_m) * sc_ig_lanes<BN>::n + lane / sc_ig_lanes<BN>::m;
}

// The tile row of row i of row group tm's micro-tile: TM < 4 rows are consecutive; a
// multiple of 4 comes as TM / 4 runs of 4 rows, BM * 4 / TM rows apart, so that each
// 128-bit shared load of a warp reads consecutive float4 (one wavefront).
template <int BM, int TM>
static __device__ __forceinline__ int sc_ig_row(int tm, int i)
{
    return TM < 4 ? tm * TM + i : (i / 4) * (BM * 4 / TM) + tm * 4 + i % 4;
}

// acc[i][j] += sum over the SC_IG_BK rows r of a[r][sc_ig_row(tm, i)] * b[r][tn*4 + j],
// r in order.
template <int BM, int BN, int TM>
static __device__ __forceinline__ void sc_ig_multiply(const float (*a)[BM + SC_IG_PAD], const float (*b)[BN + SC_IG_PAD], int tm, int tn, float acc[TM][SC_IG_TN])
{
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
            for (int j = 0; j < SC_IG_TN; ++j) acc[i][j] += as[i] * bs[j];
        }
    }
}

// The main loop of a block: acc = the sum over `depth` k-rows (none if depth <= 0), in
// steps of SC_IG_BK k-rows (a last partial step's missing rows staged as zeros). load() fetches
// the current step's operands from global memory into the thread's registers, store(buf)
// writes them into staging buffer buf, advance() moves the thread's k-rows on by one
// step. The first step is staged before the loop; inside it, step s + 1's loads are issued
// before step s is multiplied, and one barrier ends each step. Every thread of the block
// must call it (it contains barriers).
template <int BM, int BN, int TM, class Load, class Store, class Advance>
static __device__ __forceinline__ void sc_ig_main_loop(int depth, sc_ig_stage<BM>& s_a, sc_ig_stage<BN>& s_b, int tm, int tn, float acc[TM][SC_IG_TN], Load load, Store store, Advance advance)
{
#pragma unroll
    for (int i = 0; i < TM; ++i) {
#pragma unroll
        for (int j = 0; j < SC_IG_TN; ++j) acc[i][j] = 0.0f;
    }
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
        sc_ig_multiply<BM, BN, TM>(s_a.v[s % 2], s_b.v[s % 2], tm, tn, acc);
        if (more) store((s + 1) % 2);
        __syncthreads();
    }
}
