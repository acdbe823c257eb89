//! Arrays of raw band values as the embedding API takes and fills them: a [`Sample`] type
//! (u8, u16, i16, f32) and a [`Layout`] (planar, interleaved, or any element strides) over a
//! slice the caller owns.

use super::error::InferError;
use crate::model::normalization::SampleType;

mod sealed {
    /// Only the four sample types of [`super::Sample`].
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for i16 {}
    impl Sealed for f32 {}
}

/// A raw band value type: `u8` (Byte), `u16` (UInt16), `i16` (Int16) or `f32` (Float32),
/// the data types of the rasters satcolor trains on.
///
/// ```
/// use satcolor::infer::Sample;
/// use satcolor::model::normalization::SampleType;
///
/// assert_eq!(<u16 as Sample>::TYPE, SampleType::UInt16);
/// assert_eq!(u8::from_value(255.0), 255u8);
/// assert_eq!(300u16.to_f32(), 300.0);
/// ```
pub trait Sample: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The type's [`SampleType`] (see the trait's example).
    const TYPE: SampleType;
    /// The value as f32 (exact for every type).
    fn to_f32(self) -> f32;
    /// `v`, a value the type holds (already quantized with [`SampleType::quantize`]), as the
    /// type.
    fn from_value(v: f64) -> Self;
}

impl Sample for u8 {
    const TYPE: SampleType = SampleType::Byte;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn from_value(v: f64) -> Self {
        v as u8
    }
}

impl Sample for u16 {
    const TYPE: SampleType = SampleType::UInt16;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn from_value(v: f64) -> Self {
        v as u16
    }
}

impl Sample for i16 {
    const TYPE: SampleType = SampleType::Int16;
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn from_value(v: f64) -> Self {
        v as i16
    }
}

impl Sample for f32 {
    const TYPE: SampleType = SampleType::Float32;
    fn to_f32(self) -> f32 {
        self
    }
    fn from_value(v: f64) -> Self {
        v as f32
    }
}

/// Where band `b`, row `r`, column `c` of a `bands`×`height`×`width` array lives: element
/// `b·band_stride + r·row_stride + c·col_stride` of the slice.
///
/// ```
/// use satcolor::infer::Layout;
///
/// // Planar (band-major, as GDAL and rasterio read bands): [band][row][col].
/// let p = Layout::planar(4, 3, 2);
/// assert_eq!(p.index(1, 2, 3), 12 + 2 * 4 + 3);
/// // Interleaved (pixel-major, as in an RGB image buffer): [row][col][band].
/// let i = Layout::interleaved(4, 3, 2);
/// assert_eq!(i.index(1, 2, 3), (2 * 4 + 3) * 2 + 1);
/// assert_eq!(i.min_len(), 24);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Bands.
    pub bands: usize,
    /// Elements from one band to the next.
    pub band_stride: usize,
    /// Elements from one row to the next.
    pub row_stride: usize,
    /// Elements from one column to the next.
    pub col_stride: usize,
}

impl Layout {
    /// Band-major, contiguous: `[band][row][col]`.
    ///
    /// ```
    /// let l = satcolor::infer::Layout::planar(5, 4, 3);
    /// assert_eq!((l.band_stride, l.row_stride, l.col_stride), (20, 5, 1));
    /// ```
    pub fn planar(width: usize, height: usize, bands: usize) -> Self {
        Self {
            width,
            height,
            bands,
            band_stride: width * height,
            row_stride: width,
            col_stride: 1,
        }
    }

    /// Pixel-major, contiguous: `[row][col][band]`.
    ///
    /// ```
    /// let l = satcolor::infer::Layout::interleaved(5, 4, 3);
    /// assert_eq!((l.band_stride, l.row_stride, l.col_stride), (1, 15, 3));
    /// ```
    pub fn interleaved(width: usize, height: usize, bands: usize) -> Self {
        Self {
            width,
            height,
            bands,
            band_stride: 1,
            row_stride: width * bands,
            col_stride: bands,
        }
    }

    /// The element of band `b`, row `r`, column `c`.
    ///
    /// ```
    /// assert_eq!(satcolor::infer::Layout::planar(5, 4, 3).index(2, 1, 4), 2 * 20 + 5 + 4);
    /// ```
    pub fn index(&self, b: usize, r: usize, c: usize) -> usize {
        b * self.band_stride + r * self.row_stride + c * self.col_stride
    }

    /// The pixels of one band.
    ///
    /// ```
    /// assert_eq!(satcolor::infer::Layout::planar(5, 4, 3).pixels(), 20);
    /// ```
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    /// The fewest elements a slice needs for this layout: one past the last element
    /// (0 for an empty array). Saturates at `usize::MAX` for strides that overflow.
    ///
    /// ```
    /// use satcolor::infer::Layout;
    ///
    /// // Rows padded to a pitch of 8: the last row needs only its 5 elements.
    /// let l = Layout { row_stride: 8, ..Layout::planar(5, 4, 1) };
    /// assert_eq!(l.min_len(), 3 * 8 + 5);
    /// assert_eq!(Layout { row_stride: usize::MAX, ..l }.min_len(), usize::MAX);
    /// ```
    pub fn min_len(&self) -> usize {
        if self.width == 0 || self.height == 0 || self.bands == 0 {
            return 0;
        }
        let last = |n: usize, stride: usize| (n - 1).checked_mul(stride);
        last(self.bands, self.band_stride)
            .zip(last(self.height, self.row_stride))
            .zip(last(self.width, self.col_stride))
            .and_then(|((b, r), c)| b.checked_add(r)?.checked_add(c)?.checked_add(1))
            .unwrap_or(usize::MAX)
    }

    /// Errors unless the array is non-empty and a slice of `len` elements holds it.
    fn check(&self, len: usize, what: &str) -> Result<(), InferError> {
        if self.pixels() == 0 || self.bands == 0 {
            return Err(InferError::Input(format!(
                "{what}: an empty array ({} bands of {}x{})",
                self.bands, self.width, self.height
            )));
        }
        let need = self.min_len();
        if need > len {
            return Err(InferError::Input(format!(
                "{what}: {} bands of {}x{} with strides (band {}, row {}, column {}) need {} \
                 elements, the buffer has {len}",
                self.bands,
                self.width,
                self.height,
                self.band_stride,
                self.row_stride,
                self.col_stride,
                if need == usize::MAX {
                    "more than usize::MAX".to_string()
                } else {
                    need.to_string()
                }
            )));
        }
        Ok(())
    }
}

/// An array of raw band values the caller owns: a slice and its [`Layout`].
///
/// ```
/// use satcolor::infer::{Bands, Layout};
///
/// let values = vec![0u16; 3 * 5 * 4];
/// let bands = Bands::new(&values, Layout::interleaved(5, 4, 3)).unwrap();
/// assert_eq!(bands.layout().bands, 3);
/// assert!(Bands::new(&values[1..], Layout::interleaved(5, 4, 3)).is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Bands<'a, T: Sample> {
    data: &'a [T],
    layout: Layout,
}

impl<'a, T: Sample> Bands<'a, T> {
    /// `data` read through `layout`. Errors ([`InferError::Input`]) for an empty array or a
    /// slice too short for the layout.
    ///
    /// ```
    /// use satcolor::infer::{Bands, Layout};
    ///
    /// let v = [1u8, 2, 3, 4, 5, 6];
    /// // Every other element: a column stride of 2.
    /// let b = Bands::new(&v, Layout { col_stride: 2, ..Layout::planar(3, 1, 1) }).unwrap();
    /// assert_eq!(b.get(0, 0, 2), 5);
    /// ```
    pub fn new(data: &'a [T], layout: Layout) -> Result<Self, InferError> {
        layout.check(data.len(), "input")?;
        Ok(Self { data, layout })
    }

    /// Band-major values `[band][row][col]`.
    ///
    /// ```
    /// let v = [10u16, 11, 12, 20, 21, 22];
    /// let b = satcolor::infer::Bands::planar(&v, 3, 1, 2).unwrap();
    /// assert_eq!(b.get(1, 0, 2), 22);
    /// ```
    pub fn planar(
        data: &'a [T],
        width: usize,
        height: usize,
        bands: usize,
    ) -> Result<Self, InferError> {
        Self::new(data, Layout::planar(width, height, bands))
    }

    /// Pixel-major values `[row][col][band]`.
    ///
    /// ```
    /// let v = [10i16, 20, 11, 21, 12, 22];
    /// let b = satcolor::infer::Bands::interleaved(&v, 3, 1, 2).unwrap();
    /// assert_eq!(b.get(1, 0, 2), 22);
    /// ```
    pub fn interleaved(
        data: &'a [T],
        width: usize,
        height: usize,
        bands: usize,
    ) -> Result<Self, InferError> {
        Self::new(data, Layout::interleaved(width, height, bands))
    }

    /// The layout.
    ///
    /// ```
    /// let b = satcolor::infer::Bands::planar(&[0f32; 6], 3, 2, 1).unwrap();
    /// assert_eq!(b.layout(), satcolor::infer::Layout::planar(3, 2, 1));
    /// ```
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The value of band `b` at row `r`, column `c`.
    ///
    /// ```
    /// let b = satcolor::infer::Bands::planar(&[1u8, 2, 3, 4], 2, 2, 1).unwrap();
    /// assert_eq!(b.get(0, 1, 0), 3);
    /// ```
    pub fn get(&self, b: usize, r: usize, c: usize) -> T {
        self.data[self.layout.index(b, r, c)]
    }
}

/// A caller's buffer that an output is written into: a mutable slice and its [`Layout`].
/// Elements outside the layout are left as they are.
///
/// ```
/// use satcolor::infer::{BandsMut, Layout};
///
/// let mut out = vec![0u8; 3 * 5 * 4];
/// let mut bands = BandsMut::new(&mut out, Layout::planar(5, 4, 3)).unwrap();
/// bands.set(2, 3, 4, 9);
/// assert_eq!(out[2 * 20 + 3 * 5 + 4], 9);
/// ```
#[derive(Debug)]
pub struct BandsMut<'a, T: Sample> {
    data: &'a mut [T],
    layout: Layout,
}

impl<'a, T: Sample> BandsMut<'a, T> {
    /// `data` written through `layout`. Errors ([`InferError::Input`]) for an empty array or
    /// a slice too short for the layout.
    ///
    /// ```
    /// use satcolor::infer::{BandsMut, Layout};
    ///
    /// let mut v = [0u8; 4];
    /// assert!(BandsMut::new(&mut v, Layout::planar(3, 2, 1)).is_err());
    /// ```
    pub fn new(data: &'a mut [T], layout: Layout) -> Result<Self, InferError> {
        layout.check(data.len(), "output")?;
        Ok(Self { data, layout })
    }

    /// Band-major values `[band][row][col]`.
    ///
    /// ```
    /// let mut v = [0u16; 6];
    /// satcolor::infer::BandsMut::planar(&mut v, 3, 1, 2).unwrap().set(1, 0, 0, 7);
    /// assert_eq!(v, [0, 0, 0, 7, 0, 0]);
    /// ```
    pub fn planar(
        data: &'a mut [T],
        width: usize,
        height: usize,
        bands: usize,
    ) -> Result<Self, InferError> {
        Self::new(data, Layout::planar(width, height, bands))
    }

    /// Pixel-major values `[row][col][band]`.
    ///
    /// ```
    /// let mut v = [0u16; 6];
    /// satcolor::infer::BandsMut::interleaved(&mut v, 3, 1, 2).unwrap().set(1, 0, 0, 7);
    /// assert_eq!(v, [0, 7, 0, 0, 0, 0]);
    /// ```
    pub fn interleaved(
        data: &'a mut [T],
        width: usize,
        height: usize,
        bands: usize,
    ) -> Result<Self, InferError> {
        Self::new(data, Layout::interleaved(width, height, bands))
    }

    /// The layout.
    ///
    /// ```
    /// let mut v = [0f32; 6];
    /// let b = satcolor::infer::BandsMut::interleaved(&mut v, 1, 2, 3).unwrap();
    /// assert_eq!(b.layout().col_stride, 3);
    /// ```
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Sets band `b` at row `r`, column `c`.
    ///
    /// ```
    /// let mut v = [0u8; 4];
    /// satcolor::infer::BandsMut::planar(&mut v, 2, 2, 1).unwrap().set(0, 1, 1, 9);
    /// assert_eq!(v, [0, 0, 0, 9]);
    /// ```
    pub fn set(&mut self, b: usize, r: usize, c: usize, v: T) {
        self.data[self.layout.index(b, r, c)] = v;
    }
}
