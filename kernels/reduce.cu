// Deterministic reductions (f32): whole-buffer sums and sums of squares in two launches
// (per-block partials, then one block adds them in a fixed order) and per-channel sums
// (bias gradients).
#include "common.cuh"
#include "half.cuh"

// partials[block] = sum of the block's elements of x.
// Mapping: 1-D grid-stride loop (grid size fixed by n), then sc_block_sum (warp shuffles
// + 32 floats of static shared memory); thread 0 writes the block's partial.
extern "C" __global__ void sum_partials(const float* __restrict__ x, float* __restrict__ partials, int n, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) acc += x[i];
    const float s = sc_block_sum(acc, warp_sums);
    sc_store_partial(partials, s, accumulate);
}

// partials[block] = sum of the squares of the block's elements of x (the squared norm of a
// gradient tensor; reduce_partials then adds the partials to out[0]).
// Mapping: 1-D grid-stride loop (grid size fixed by n), then sc_block_sum (warp shuffles
// + 32 floats of static shared memory); thread 0 writes the block's partial.
extern "C" __global__ void sum_squares_partials(const float* __restrict__ x, float* __restrict__ partials, int n, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    float acc = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float v = x[i];
        acc += v * v;
    }
    const float s = sc_block_sum(acc, warp_sums);
    sc_store_partial(partials, s, accumulate);
}

// out[0] = (accumulate ? out[0] : 0) + sum of partials[0..count).
// Mapping: a single block; its threads stride over the partials in index order, then
// sc_block_sum (warp shuffles + 32 floats of static shared memory); thread 0 writes out.
extern "C" __global__ void reduce_partials(const float* __restrict__ partials, float* __restrict__ out, int count, int accumulate)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    float acc = 0.0f;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    const float s = sc_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) out[0] = accumulate ? out[0] + s : s;
}

// out[j*c + ch] = the sum of elements [j*chunk, (j + 1)*chunk) of channel ch's n * plane
// values g[img, ch, p] (index img*plane + p): the bias gradients of convolutions (plane =
// h_out * w_out) and of the linear layer (plane = 1). With one chunk (gridDim.y = 1, chunk
// >= n * plane) that is the channel's whole sum, out[ch]; with more, sum_slices adds the
// chunks in order j = 0, 1, ... (src/ops/reduce/gpu.rs), so the result depends on the
// shape only.
// Mapping: one block per (channel, chunk) (grid.x = c, grid.y = chunks); its threads
// (1-D, a multiple of 32) stride over the chunk, then sc_block_sum (warp shuffles + 32
// floats of static shared memory); thread 0 writes the sum.
extern "C" __global__ void channel_sum(const float* __restrict__ g, float* __restrict__ out, int n, int c, int plane, int chunk)
{
    __shared__ float warp_sums[SC_BLOCK_SUM_MAX_WARPS];
    const int ch = blockIdx.x;
    const int total = n * plane;
    const int begin = blockIdx.y * chunk;
    const int end = min(total, begin + chunk);
    float acc = 0.0f;
    for (int e = begin + threadIdx.x; e < end; e += blockDim.x) {
        const int img = e / plane;
        acc += g[((size_t)img * c + ch) * plane + e % plane];
    }
    const float s = sc_block_sum(acc, warp_sums);
    if (threadIdx.x == 0) out[blockIdx.y * c + ch] = s;
}

// out[e] = act(sum_{z < slices} parts[z*len + e] + bias[(e / plane) % c]), the slices
// added in order z = 0, 1, ... and the bias only with has_bias: the split-K partial sums
// of the implicit-GEMM convolutions (an NCHW output of c channels of `plane` pixels) and
// weight gradients (no bias, identity). The launch code bounds slices * len by INT_MAX.
// Masked (mask_act != 0, f32 only): the result is then multiplied by act'(mask[e]) with
// mask_act's slope, act_backward's one rounding (the same bits): an input gradient through
// the activation whose output mask is; else mask is a stand-in, not read.
// Mapping: thread i (grid-stride) owns the `per` = 1 or 4 (chosen by the launch code)
// elements per*i ..; with 4 (len a multiple of 4, so every slice starts 16-byte aligned) its
// loads and stores are 128-bit. Consecutive threads read consecutive elements of each
// slice. The element's channel comes from one division per thread, then steps. At most 32
// registers (8 blocks of 256 threads per SM), as the plain loop needs.
// The body of sum_slices and sum_slices_h16: T the storage of bias and out (kernels/half.cuh).
template <class T>
static __device__ __forceinline__ void sum_slices_body(const float* __restrict__ parts, const T* __restrict__ bias, const T* __restrict__ mask, T* __restrict__ out, int slices, int len, int plane, int c, int has_bias, int act, float slope, int mask_act, float mask_slope, int per, int fmt)
{
    if (per != 1 && (per != 4 || len % 4 != 0)) __trap();
    const bool vec = per == 4;
    const int threads = (len + per - 1) / per;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < threads; i += gridDim.x * blockDim.x) {
        const int e0 = per * i;
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (vec) {
            for (int z = 0; z < slices; ++z) {
                const float4 v = *reinterpret_cast<const float4*>(parts + z * len + e0);
                acc[0] += v.x;
                acc[1] += v.y;
                acc[2] += v.z;
                acc[3] += v.w;
            }
        } else {
            for (int z = 0; z < slices; ++z) acc[0] += parts[z * len + e0];
        }
        // Element e0 + j is pixel r of channel ch.
        const int q = e0 / plane;
        int r = e0 - q * plane;
        int ch = q % c;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            if (j == per) break;
            if (has_bias) acc[j] += sc_ld(bias + ch, fmt);
            acc[j] = sc_act(acc[j], act, slope);
            if (mask_act != 0) acc[j] *= sc_act_grad(sc_ld(mask + e0 + j, fmt), mask_act, mask_slope);
            if (++r == plane) {
                r = 0;
                ch = ch + 1 == c ? 0 : ch + 1;
            }
        }
        if (vec && sizeof(T) == sizeof(float)) {
            *reinterpret_cast<float4*>(out + e0) = make_float4(acc[0], acc[1], acc[2], acc[3]);
        } else {
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                if (j == per) break;
                sc_st(out + e0 + j, acc[j], fmt);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(256, 8) sum_slices(const float* __restrict__ parts, const float* __restrict__ bias, const float* __restrict__ mask, float* __restrict__ out, int slices, int len, int plane, int c, int has_bias, int act, float slope, int mask_act, float mask_slope, int per)
{
    sum_slices_body<float>(parts, bias, mask, out, slices, len, plane, c, has_bias, act, slope, mask_act, mask_slope, per, 0);
}

// sum_slices with bias and out in 16-bit storage of format fmt (the split-K finish of the
// 16-bit convolutions; parts stay FP32). 16-bit stores, one per element.
extern "C" __global__ void __launch_bounds__(256, 8) sum_slices_h16(const float* __restrict__ parts, const unsigned short* __restrict__ bias, unsigned short* __restrict__ out, int slices, int len, int plane, int c, int has_bias, int act, float slope, int per, int fmt)
{
    sum_slices_body<unsigned short>(parts, bias, bias, out, slices, len, plane, c, has_bias, act, slope, 0, 0.0f, per, fmt);
}

// The split K of a pooled convolution (D's layers, the U-Net encoder's block outputs)
// finished in one pass: out = act(sum_{z < slices} parts[z*len] + bias) as sum_slices
// computes it (an NCHW output of c channels, planes = images * c maps of h x wd, len =
// planes * h * wd), and pooled = its 2x2 max pooling as max_pool2d_forward takes it (the
// window's values compared as floats, the first maximum's copied; a trailing odd row or
// column dropped), the same bits as the two launches. The launch code bounds slices * len
// by INT_MAX.
// Mapping: 1-D grid-stride loop, one thread per 2 x 2 block of out (blocks of a trailing
// odd row or column clipped), so every element is written exactly once; consecutive
// threads take consecutive blocks of a row. No shared memory.
extern "C" __global__ void __launch_bounds__(256, 8) sum_slices_pool(const float* __restrict__ parts, const float* __restrict__ bias, float* __restrict__ out, float* __restrict__ pooled, int slices, int planes, int h, int wd, int c, int has_bias, int act, float slope)
{
    const int h_out = h / 2;
    const int w_out = wd / 2;
    const int hb = (h + 1) / 2;
    const int wb = (wd + 1) / 2;
    const int len = planes * h * wd;
    const int total = planes * hb * wb;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        const int bx = e % wb;
        const int by = (e / wb) % hb;
        const int nc = e / (wb * hb);
        const int corner = (nc * h + 2 * by) * wd + 2 * bx;
        const bool right = 2 * bx + 1 < wd;
        const bool down = 2 * by + 1 < h;
        const float b = has_bias ? bias[nc % c] : 0.0f;
        float v[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            v[j] = 0.0f;
            if ((j & 1 && !right) || (j >> 1 && !down)) continue;
            const int at = corner + (j >> 1) * wd + (j & 1);
            float acc = 0.0f;
            for (int z = 0; z < slices; ++z) acc += parts[z * len + at];
            if (has_bias) acc += b;
            v[j] = sc_act(acc, act, slope);
            out[at] = v[j];
        }
        if (by < h_out && bx < w_out) {
            // sc_window_argmax's comparisons, tracking the value (no indexed local array).
            float m = v[0];
            if (v[1] > m) m = v[1];
            if (v[2] > m) m = v[2];
            if (v[3] > m) m = v[3];
            pooled[(nc * h_out + by) * w_out + bx] = m;
        }
    }
}

// out[e] = sum_{z < slices} parts[z*len + e] and out_b[e] = sum_{z < slices}
// parts_b[z*len_b + e], the slices added in order z = 0, 1, ...: the split-K partial sums of
// a weight gradient and of its bias gradient (conv_wgrad_igemm_body) finished in one
// launch. len and len_b are the lengths of out and out_b; the launch code bounds slices *
// (len + len_b) by INT_MAX.
// Mapping: the first ceil(len / per) threads of the grid-stride range own `per` = 1 or 4
// elements of out each (4: 128-bit loads and stores, as in sum_slices), the next len_b one
// element of out_b each; consecutive threads read consecutive elements of each slice.
extern "C" __global__ void __launch_bounds__(256, 8) sum_slices_pair(const float* __restrict__ parts, const float* __restrict__ parts_b, float* __restrict__ out, float* __restrict__ out_b, int slices, int len, int len_b, int per)
{
    if (per != 1 && (per != 4 || len % 4 != 0)) __trap();
    const int threads_a = (len + per - 1) / per;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < threads_a + len_b; i += gridDim.x * blockDim.x) {
        if (i >= threads_a) {
            const int e = i - threads_a;
            float acc = 0.0f;
            for (int z = 0; z < slices; ++z) acc += parts_b[z * len_b + e];
            out_b[e] = acc;
        } else if (per == 4) {
            float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            for (int z = 0; z < slices; ++z) {
                const float4 v = *reinterpret_cast<const float4*>(parts + z * len + 4 * i);
                acc.x += v.x;
                acc.y += v.y;
                acc.z += v.z;
                acc.w += v.w;
            }
            *reinterpret_cast<float4*>(out + 4 * i) = acc;
        } else {
            float acc = 0.0f;
            for (int z = 0; z < slices; ++z) acc += parts[z * len + i];
            out[i] = acc;
        }
    }
}

// Split-K sums deferred to one launch: the weight gradients queued between
// Device::begin_weight_grads and end_weight_grads (src/device/gpu/deferred.rs), up to 8 per
// launch. Slot s < slots finishes out_s[e] = the sum of the slices_s slices of parts_s
// (len_s values each) at e, in the order the immediate finish uses, so both give the same
// results bit for bit: with rows = slices_s / group_s, row j adds slices j, j + rows, ...,
// j + (group_s - 1)*rows in order (sum_slices' first stage, group_s > 1) and the rows are
// added in order (its second stage); group_s = 1 is the plain sum in order z = 0, 1, ...
// The launch code bounds slices_s * len_s and the sum of the len_s by INT_MAX.
// Mapping: 1-D grid-stride loop over the slots' outputs laid end to end (slot 0's len_0
// values first): thread i owns one output, consecutive threads consecutive values of a
// slice. Slot pointers are picked by comparisons (no indexed parameter array, which would
// take a stack frame).
extern "C" __global__ void __launch_bounds__(256, 8) sum_slices_batch(const float* __restrict__ parts0, const float* __restrict__ parts1, const float* __restrict__ parts2, const float* __restrict__ parts3, const float* __restrict__ parts4, const float* __restrict__ parts5, const float* __restrict__ parts6, const float* __restrict__ parts7, float* __restrict__ out0, float* __restrict__ out1, float* __restrict__ out2, float* __restrict__ out3, float* __restrict__ out4, float* __restrict__ out5, float* __restrict__ out6, float* __restrict__ out7, int len0, int len1, int len2, int len3, int len4, int len5, int len6, int len7, int slices0, int slices1, int slices2, int slices3, int slices4, int slices5, int slices6, int slices7, int group0, int group1, int group2, int group3, int group4, int group5, int group6, int group7, int total)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        // The slot of output i and its index e there.
        int e = i;
        int s = 0;
        const int lens[8] = {len0, len1, len2, len3, len4, len5, len6, len7};
#pragma unroll
        for (int k = 0; k < 7; ++k) {
            if (s == k && e >= lens[k]) {
                e -= lens[k];
                s = k + 1;
            }
        }
        const float* p = s == 0 ? parts0 : s == 1 ? parts1 : s == 2 ? parts2 : s == 3 ? parts3 : s == 4 ? parts4 : s == 5 ? parts5 : s == 6 ? parts6 : parts7;
        float* o = s == 0 ? out0 : s == 1 ? out1 : s == 2 ? out2 : s == 3 ? out3 : s == 4 ? out4 : s == 5 ? out5 : s == 6 ? out6 : out7;
        const int len = s == 0 ? len0 : s == 1 ? len1 : s == 2 ? len2 : s == 3 ? len3 : s == 4 ? len4 : s == 5 ? len5 : s == 6 ? len6 : len7;
        const int slices = s == 0 ? slices0 : s == 1 ? slices1 : s == 2 ? slices2 : s == 3 ? slices3 : s == 4 ? slices4 : s == 5 ? slices5 : s == 6 ? slices6 : slices7;
        const int group = s == 0 ? group0 : s == 1 ? group1 : s == 2 ? group2 : s == 3 ? group3 : s == 4 ? group4 : s == 5 ? group5 : s == 6 ? group6 : group7;
        const int rows = slices / group;
        float acc = 0.0f;
        for (int j = 0; j < rows; ++j) {
            float row = 0.0f;
            for (int g = 0; g < group; ++g) row += p[(g * rows + j) * len + e];
            acc += row;
        }
        o[e] = acc;
    }
}
