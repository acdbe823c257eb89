// Channel concatenation of two NCHW tensors (the U-Net's skip connections) and its backward,
// the split of the gradient: pure copies, each element written by exactly one thread.
#include "common.cuh"

// y[n, c] = a[n, c] for c < c_a, else b[n, c - c_a]; per image, y holds a's c_a planes then
// b's c_b planes (each plane `plane` elements), so image n's first a_len = c_a plane elements
// come from a and the rest from b. T: float, or unsigned short for 16-bit storage (a copy
// needs no format).
// Mapping: 1-D grid-stride loop over the elements of y, one element per thread per step;
// the image and the offset inside it come from one division by the image size; no shared
// memory.
template <class T>
static __device__ __forceinline__ void concat_body(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, int total, int a_len, int b_len)
{
    const int image = a_len + b_len;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        const int n = i / image;
        const int r = i - n * image;
        y[i] = r < a_len ? a[n * a_len + r] : b[n * b_len + (r - a_len)];
    }
}

// The channel concatenation (concat_body) of f32 tensors.
extern "C" __global__ void concat_channels(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y, int total, int a_len, int b_len)
{
    concat_body(a, b, y, total, a_len, b_len);
}

// The channel concatenation (concat_body) of 16-bit tensors (bf16 or fp16).
extern "C" __global__ void concat_channels_h16(const unsigned short* __restrict__ a, const unsigned short* __restrict__ b, unsigned short* __restrict__ y, int total, int a_len, int b_len)
{
    concat_body(a, b, y, total, a_len, b_len);
}

// The backward of concat_channels: da[n] = dy[n][0 .. a_len), db[n] = dy[n][a_len ..).
// Mapping: 1-D grid-stride loop over the elements of dy, one element per thread per step;
// each element of dy goes to exactly one element of da or db; no shared memory.
extern "C" __global__ void split_channels(const float* __restrict__ dy, float* __restrict__ da, float* __restrict__ db, int total, int a_len, int b_len)
{
    const int image = a_len + b_len;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
        const int n = i / image;
        const int r = i - n * image;
        if (r < a_len) {
            da[n * a_len + r] = dy[i];
        } else {
            db[n * b_len + (r - a_len)] = dy[i];
        }
    }
}
