//! The GEMM machinery shared by the CPU convolutions and the linear layer: the convolution
//! geometry and im2col/col2im (`im2col`), a safe wrapper of the `gemm` crate
//! (`matmul`) and per-thread scratch buffers (`scratch`).

pub(crate) mod im2col;
pub(crate) mod matmul;
pub(crate) mod scratch;
