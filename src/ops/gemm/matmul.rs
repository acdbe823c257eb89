//! A safe wrapper of `gemm::gemm` for f32 matrices given by slice, shape and strides.

use gemm::Parallelism;

/// A read-only strided view of a `rows × cols` f32 matrix: element `(i, j)` is
/// `data[i·row_stride + j·col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major contiguous `rows × cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
    /// The transpose (a view: no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
    /// Whether every element lies inside `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = a·b` (or `dst += a·b` with `accumulate`), `dst` row-major `a.rows × b.cols`.
/// With `parallel`, gemm splits the output over rayon's threads; the sum over the inner
/// dimension runs in the same order either way.
///
/// Panics if the views do not fit their slices (callers check lengths first).
pub(crate) fn matmul(
    dst: &mut [f32],
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    parallel: bool,
) {
    matmul_strided(dst, b.cols, a, b, accumulate, parallel);
}

/// [`matmul`] into the `a.rows × b.cols` block of `dst` whose rows are `dst_row_stride`
/// apart (a column range of a wider row-major matrix).
pub(crate) fn matmul_strided(
    dst: &mut [f32],
    dst_row_stride: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(a.in_bounds() && b.in_bounds() && b.rows == k && dst_row_stride >= n);
    assert!(m == 0 || n == 0 || dst.len() >= (m - 1) * dst_row_stride + n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for row in 0..m {
                dst[row * dst_row_stride..][..n].fill(0.0);
            }
        }
        return;
    }
    let par = if parallel {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above keep every index gemm touches inside the three slices, and
    // `dst` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}
