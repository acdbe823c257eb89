// 2-D transposed convolution (PyTorch's conv_transpose2d, weight [c_in, c_out, k, k]),
// NCHW f32, as a gather: every output pixel sums the inputs that scatter onto it.
//
// conv_transpose2d_forward also computes the input gradient of a plain convolution
// (dx = conv_transpose2d(dy, w) with the convolution's [c_out, c_in, k, k] weight read as
// [in, out, k, k], and output size = the convolution's input size).
#include "common.cuh"

// Output tile side (the block is SC_CT_TILE x SC_CT_TILE threads).
#define SC_CT_TILE 16
// Output channels computed by each thread.
#define SC_CT_COB 8

// y[n, o, oy, ox] = act(bias[o] + sum over i, kh, kw with oy = iy*stride - pad + kh and
// ox = ix*stride - pad + kw for 0 <= iy < h, 0 <= ix < wd of x[n, i, iy, ix] * w[i, o, kh, kw]).
// Output size h_out x w_out is given (for conv_transpose2d it includes output_padding).
//
// Mapping: block (16, 16) = one 16x16 tile of output pixels (thread (tx, ty) -> pixel
// (oy0 + ty, ox0 + tx)) for 8 consecutive output channels held in registers;
// grid.x = tiles_y * tiles_x, grid.y = ceil(c_out / 8), grid.z = n.
// Shared (dynamic): per input channel, the input rows/columns that can reach the tile,
// side = (16 + k - 2) / stride + 2 floats (starting at floor((oy0 + pad - k + 1) / stride),
// zero outside the input), and the 8 x k x k weights of that channel, between two
// barriers. Each output is summed in the fixed order (i, kh, kw).
extern "C" __global__ void conv_transpose2d_forward(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, int c_in, int h, int wd, int c_out, int k, int stride, int pad, int h_out, int w_out, int has_bias, int act, float slope)
{
    SATCOLOR_DYNAMIC_SHARED(float, smem);
    const int in_side = (SC_CT_TILE + k - 2) / stride + 2;
    const int kk = k * k;
    float* s_in = smem;
    float* s_w = smem + in_side * in_side;

    const int tiles_x = (w_out + SC_CT_TILE - 1) / SC_CT_TILE;
    const int ox0 = (blockIdx.x % tiles_x) * SC_CT_TILE;
    const int oy0 = (blockIdx.x / tiles_x) * SC_CT_TILE;
    const int co0 = blockIdx.y * SC_CT_COB;
    const int img = blockIdx.z;
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const int tid = ty * SC_CT_TILE + tx;
    const int nthreads = SC_CT_TILE * SC_CT_TILE;
    const int iy_lo = sc_floor_div(oy0 + pad - (k - 1), stride);
    const int ix_lo = sc_floor_div(ox0 + pad - (k - 1), stride);
    const int oy = oy0 + ty;
    const int ox = ox0 + tx;

    float acc[SC_CT_COB];
#pragma unroll
    for (int j = 0; j < SC_CT_COB; ++j) acc[j] = 0.0f;

    for (int ci = 0; ci < c_in; ++ci) {
        const float* xc = x + ((size_t)img * c_in + ci) * h * wd;
        for (int e = tid; e < in_side * in_side; e += nthreads) {
            const int gy = iy_lo + e / in_side;
            const int gx = ix_lo + e % in_side;
            s_in[e] = (gy >= 0 && gy < h && gx >= 0 && gx < wd) ? xc[(size_t)gy * wd + gx] : 0.0f;
        }
        for (int e = tid; e < SC_CT_COB * kk; e += nthreads) {
            const int co = co0 + e / kk;
            s_w[e] = co < c_out ? w[((size_t)ci * c_out + co) * kk + e % kk] : 0.0f;
        }
        __syncthreads();
        for (int kh = 0; kh < k; ++kh) {
            const int ty_src = oy + pad - kh;
            if (ty_src % stride != 0) continue;
            const int r = ty_src / stride - iy_lo;
            for (int kw = 0; kw < k; ++kw) {
                const int tx_src = ox + pad - kw;
                if (tx_src % stride != 0) continue;
                const float v = s_in[r * in_side + tx_src / stride - ix_lo];
                const int t = kh * k + kw;
#pragma unroll
                for (int j = 0; j < SC_CT_COB; ++j) acc[j] += v * s_w[j * kk + t];
            }
        }
        __syncthreads();
    }

    if (oy < h_out && ox < w_out) {
#pragma unroll
        for (int j = 0; j < SC_CT_COB; ++j) {
            const int co = co0 + j;
            if (co < c_out) {
                const float z = has_bias ? acc[j] + bias[co] : acc[j];
                y[(((size_t)img * c_out + co) * h_out + oy) * w_out + ox] = sc_act(z, act, slope);
            }
        }
    }
}
