// Optimizer updates as fused elementwise kernels (PyTorch's formulas, f32).
#include "common.cuh"

// SGD with momentum (dampening 0, no Nesterov): g' = g + wd p; mom = mu mom + g';
// p = p - lr mom.
// Mapping: 1-D grid-stride loop, one parameter per thread per step; no shared memory.
extern "C" __global__ void sgd_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ mom, int n, float lr, float momentum, float weight_decay)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float pi = p[i];
        const float gi = g[i] + weight_decay * pi;
        const float bi = momentum * mom[i] + gi;
        mom[i] = bi;
        p[i] = pi - lr * bi;
    }
}

// Adam (no AMSGrad): g' = g + wd p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
// p = p - step_size (m / (sqrt(v) / bc2_sqrt + eps)), where bias = {step_size, bc2_sqrt}
// = {lr / (1 - b1^t), sqrt(1 - b2^t)}, computed by the host in double precision (as
// PyTorch does) and read from device memory, so that a replayed CUDA Graph uses step t's.
// Mapping: 1-D grid-stride loop, one parameter per thread per step; no shared memory. One
// launch covers a whole network where its tensors lie in one group.
extern "C" __global__ void adam_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v, const float* __restrict__ bias, int n, float beta1, float beta2, float eps, float weight_decay)
{
    const float step_size = bias[0];
    const float bc2_sqrt = bias[1];
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float pi = p[i];
        const float gi = g[i] + weight_decay * pi;
        const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}
