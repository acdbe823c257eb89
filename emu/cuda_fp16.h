// Stand-in for CUDA's <cuda_fp16.h> in the emulator build: `__half` and its intrinsics are
// defined by the force-included emu/cuda_emu.h.
#pragma once
