// The block-tile machinery of satcolor's implicit-GEMM convolutions (kernels/conv2d.cu):
// C[BM x BN] += A[BM x K] * B[K x BN] with both operands staged in shared memory, K-major
// (a[r][m], b[r][n]), SC_IG_BK rows at a time, in two buffers: while the block multiplies
// one, its threads hold the next step's global loads in registers and then store them
// into the other, so one barrier per step suffices.
//
// Tiles: BM x BN with BM * BN = 4096 (64 x 64, 128 x 32, 256 x 16, 32 x 128), so that
// SC_IG_THREADS = 256 threads each own a 4 x 4 micro-tile. Thread mapping: warp wp,
// lane l owns rows tm*4 .. tm*4 + 3 and columns tn*4 .. tn*4 + 3 with
// tm = (wp % (BM/32))*8 + l % 8 and tn = (wp / (BM/32))*4 + l / 8: a warp's 128-bit
// shared loads read 8 consecutive float4 of a row of a and 4 of b, one wavefront each.
// Each output is the sum over k in increasing order (one FMA per k), so a result does not
// depend on the thread or block order.
#pragma once

// Depth (K) of one staged step.
#define SC_IG_BK 8
// Rows and columns of one thread's micro-tile.
#define SC_IG_TM 4
#define SC_IG_TN 4
// Threads of an implicit-GEMM block; every tile has BM * BN = 16 * SC_IG_THREADS.
#define SC_IG_THREADS 256
// Blocks per SM the kernels are compiled for (__launch_bounds__): at most 64 registers
// per thread, so that 4 blocks (32 warps) fit an SM and G's 512-tile grids run in one wave.
#define SC_IG_MIN_BLOCKS 4
// The same for the 256-row tile, whose 8 gathered A values per thread and step need more
// registers than 64 without spilling: at most 85, 3 blocks.
#define SC_IG_MIN_BLOCKS_TALL 3
// Extra floats per staged row: a row pitch of B + 4 keeps float4 rows aligned and makes
// the staging stores of 8 k-rows x 4 columns per warp hit 32 distinct banks.
#define SC_IG_PAD 4

// The two staging buffers of an operand with B columns.
template <int B>
struct sc_ig_stage {
    float v[2][SC_IG_BK][B + SC_IG_PAD];
};

// The row (M) index tm and column (N) index tn of this thread's micro-tile in a BM-row tile.
template <int BM>
static __device__ inline void sc_ig_thread(int* tm, int* tn)
{
    const int warp = threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    *tm = (warp % (BM / 32)) * 8 + lane % 8;
    *tn = (warp / (BM / 32)) * 4 + lane / 8;
}

// acc[i][j] += sum over the SC_IG_BK rows r of a[r][tm*4 + i] * b[r][tn*4 + j], r in order.
template <int BM, int BN>
static __device__ __forceinline__ void sc_ig_multiply(const float (*a)[BM + SC_IG_PAD], const float (*b)[BN + SC_IG_PAD], int tm, int tn, float acc[SC_IG_TM][SC_IG_TN])
{
#pragma unroll
    for (int r = 0; r < SC_IG_BK; ++r) {
        const float4 av = *reinterpret_cast<const float4*>(&a[r][tm * SC_IG_TM]);
        const float4 bv = *reinterpret_cast<const float4*>(&b[r][tn * SC_IG_TN]);
        const float as[SC_IG_TM] = {av.x, av.y, av.z, av.w};
        const float bs[SC_IG_TN] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
        for (int i = 0; i < SC_IG_TM; ++i) {
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
template <int BM, int BN, class Load, class Store, class Advance>
static __device__ __forceinline__ void sc_ig_main_loop(int depth, sc_ig_stage<BM>& s_a, sc_ig_stage<BN>& s_b, int tm, int tn, float acc[SC_IG_TM][SC_IG_TN], Load load, Store store, Advance advance)
{
#pragma unroll
    for (int i = 0; i < SC_IG_TM; ++i) {
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
        sc_ig_multiply<BM, BN>(s_a.v[s % 2], s_b.v[s % 2], tm, tn, acc);
        if (more) store((s + 1) % 2);
        __syncthreads();
    }
}
