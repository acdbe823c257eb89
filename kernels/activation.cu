// The activation backward (f32): dy *= act'(y), from the activation's output.
#include "common.cuh"

// In place: dy[i] *= act'(y[i]), with act' computed from the activation's output y.
// Mapping: 1-D grid-stride loop, one element per thread per step; no shared memory.
extern "C" __global__ void act_backward(const float* __restrict__ y, float* __restrict__ dy, int n, int act, float slope)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        dy[i] *= sc_act_grad(y[i], act, slope);
    }
}
