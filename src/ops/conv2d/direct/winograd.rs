//! Winograd F(2×2, 3×3) for the direct correlations with 3×3 taps at stride 1: the
//! forward pass and the input gradient of the U-Net's and D's 3×3 convolutions.
//!
//! Every 2×2 block of outputs (a *tile*) comes from a 4×4 patch d of the padded input,
//! `Y = Aᵀ [Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B)] A` (Lavin and Gray, 2016): 16 multiplies per
//! tile and channel pair where the direct tiles spend 36. Per chunk of tiles the pass
//! transforms the input patches into `V[ξ][c][tile]` (the 16 positions ξ of the 4×4
//! transformed patch), multiplies each position's `[c_out × c_in]` matrix `U[ξ]` of
//! transformed taps (computed once per pass) by `V[ξ]` with the direct tiles' register
//! micro-kernel (a 1×1 correlation over the chunk's tiles), and transforms `M[ξ][o][tile]`
//! back into outputs, applying the bias, the activation and the mask as it writes them.
//!
//! Layout: the input is first split into its four phases,
//! `P[c][rh][rw][r][q] = X[c][2r + rh − pad][2q + rw − pad]` (zero outside X), so that the
//! patches of 8 tiles along a row are 16 contiguous vector loads. Threads take chunks of
//! tile rows (a chunk's `V[ξ]` is at most 16 KiB, its V and M stay in L2); every output is
//! computed by one thread in a fixed order, so results do not depend on the number of
//! threads. The transforms are the same additions with or without AVX2; only the
//! micro-kernel differs (fused multiply-adds), as in the direct tiles.
//!
//! The transforms' rounding adds a few units in the last place to each product (the
//! entries of G are 1 and ½; of A and B, 0 and ±1); the tests hold the pass to the f64
//! reference as tightly as the direct tiles.

use super::{BiasAct, Direct, Frame, Input, Part, SharedOut, TapLists, LANES};
use crate::ops::activation::cpu::{apply, derivative};
use crate::ops::gemm::scratch::with_scratch_in;
use crate::ops::Act;
use rayon::prelude::*;

/// Floats of one position's slice of a chunk, `V[ξ]` (input channels × tiles): 16 KiB,
/// read from L1 by every block of output channels.
const CHUNK_FLOATS: usize = 4096;

/// Positions of a transformed patch (4 × 4).
const XI: usize = 16;

/// Floats between the end of one position's V (or M) and the next: one cache line, so
/// that the 16 positions a transform writes or reads at once do not fall in the same L1
/// set (their planes would otherwise lie a multiple of 4 KiB apart).
const SKEW: usize = 16;

/// One vector of lanes, one tile per lane.
type Lanes = [f32; LANES];

/// The tile grid of a pass and the phase planes it reads.
#[derive(Clone, Copy, Debug)]
struct Grid {
    /// Tile rows per image (`⌈h_out/2⌉`).
    th: usize,
    /// Tiles per row rounded up to whole vectors (`⌈w_out/2⌉` → a multiple of 8).
    twp: usize,
    /// Rows and width of one phase plane: `th + 1` and `twp + 1`.
    pr: usize,
    pw: usize,
}

impl Grid {
    /// Elements of one channel's four phase planes.
    fn phases(&self) -> usize {
        4 * self.pr * self.pw
    }
}

impl Direct {
    /// Whether the Winograd pass takes this correlation: 3×3 taps at stride 1 (no phase
    /// split), rows of at least 16 outputs (8 tiles: one vector) and at least 8 channels
    /// in and out (with fewer, the transforms cost more than the multiplies they save).
    pub(super) fn winograd(&self) -> bool {
        self.k == 3
            && self.taps.stride == 1
            && self.w_out >= 2 * LANES
            && self.c_in >= 8
            && self.c_out >= 8
    }

    /// The tile grid of the Winograd pass.
    fn grid(&self) -> Grid {
        let th = self.h_out.div_ceil(2);
        let twp = self.w_out.div_ceil(2).div_ceil(LANES) * LANES;
        Grid {
            th,
            twp,
            pr: th + 1,
            pw: twp + 1,
        }
    }

    /// Tile rows per chunk for micro-kernel tiles `NV` vectors wide: `V[ξ]` within
    /// [`CHUNK_FLOATS`], several chunks per thread, and, where that leaves at least one,
    /// a whole number of micro-kernel tiles (no padding tiles).
    fn chunk_rows(&self, nv: usize) -> usize {
        let grid = self.grid();
        let threads = rayon::current_num_threads().max(1);
        let rows = (CHUNK_FLOATS / (self.c_in.max(self.c_out) * grid.twp))
            .clamp(1, (self.n * grid.th).div_ceil(4 * threads).max(1));
        (1..=rows)
            .rev()
            .find(|r| r * grid.twp % (nv * LANES) == 0)
            .unwrap_or(rows)
    }

    /// The micro-kernel's tile (output channels, vectors of tiles) for the Winograd pass:
    /// the least work on padding channels and tiles; a tie goes to the first. Both keep
    /// their 12 sums and operands within the 16 vector registers (4 × 3 does not: the
    /// compiler spills a sum).
    fn winograd_tile(&self) -> (usize, usize) {
        const TILES: [(usize, usize); 2] = [(6, 2), (2, 6)];
        let twp = self.grid().twp;
        // Padded work per real (channel, tile) pair, in parts per million.
        let work = |&(ocb, nv): &(usize, usize)| {
            let tiles = self.chunk_rows(nv) * twp;
            let padded = self.c_out.div_ceil(ocb) * ocb * tiles.div_ceil(nv * LANES) * nv * LANES;
            padded * 1_000_000 / (self.c_out * tiles)
        };
        let best = TILES.iter().map(work).min().unwrap_or(0);
        TILES
            .into_iter()
            .find(|t| work(t) == best)
            .unwrap_or(TILES[0])
    }

    /// `y = act(correlation(x) + bias)` (times the mask's derivative, if any) by Winograd
    /// F(2×2, 3×3); the caller checked the lengths and [`winograd`](Self::winograd).
    pub(super) fn run_winograd(
        &self,
        x: Input<'_>,
        w: &[f32],
        epi: BiasAct<'_>,
        out: SharedOut,
        simd: bool,
    ) {
        debug_assert!(self.winograd());
        match self.winograd_tile() {
            (2, 6) => self.winograd_tiles::<2, 6>(x, w, epi, out, simd),
            _ => self.winograd_tiles::<6, 2>(x, w, epi, out, simd),
        }
    }

    /// Splits, transforms and runs every chunk with micro-kernel tiles of `OCB` channels
    /// × `NV` vectors of tiles.
    fn winograd_tiles<const OCB: usize, const NV: usize>(
        &self,
        x: Input<'_>,
        w: &[f32],
        epi: BiasAct<'_>,
        out: SharedOut,
        simd: bool,
    ) {
        let grid = self.grid();
        let blocks = self.c_out.div_ceil(OCB);
        let tile_rows = self.n * grid.th;
        let rows = self.chunk_rows(NV);
        let chunks = tile_rows.div_ceil(rows);
        let span = NV * LANES;
        let most = (rows * grid.twp).div_ceil(span) * span;
        with_scratch_in(0, self.n * self.c_in * grid.phases(), |p| {
            with_scratch_in(1, blocks * XI * self.c_in * OCB, |u| {
                self.split_phases(x, grid, p);
                self.transform_weights::<OCB>(w, u);
                let (p, u, out) = (&*p, &*u, &out);
                (0..chunks).into_par_iter().for_each(|chunk| {
                    let first = chunk * rows;
                    let rows = rows.min(tile_rows - first);
                    with_scratch_in(2, XI * (self.c_in * most + SKEW), |v| {
                        with_scratch_in(3, XI * (blocks * OCB * most + SKEW), |m| {
                            let nt = (rows * grid.twp).div_ceil(span) * span;
                            let chunk = Chunk {
                                first,
                                rows,
                                nt,
                                v_plane: self.c_in * nt + SKEW,
                                m_plane: blocks * OCB * nt + SKEW,
                                grid,
                            };
                            let v = &mut v[..XI * chunk.v_plane];
                            let m = &mut m[..XI * chunk.m_plane];
                            transform_input(self.c_in, chunk, p, v, simd);
                            self.multiply::<OCB, NV>(chunk, u, v, m, simd);
                            // SAFETY: the chunk's tile rows are written by this task alone.
                            unsafe { self.transform_output(chunk, m, epi, out, simd) };
                        })
                    })
                });
            })
        })
    }

    /// Splits the input into its zero-padded phase planes `P[img][c][rh·2 + rw][r][q] =
    /// X[c][2r + rh − pad][2q + rw − pad]`: each input row, padded into a row buffer,
    /// is dealt into its two column phases.
    fn split_phases(&self, x: Input<'_>, grid: Grid, p: &mut [f32]) {
        let (h, w, pad) = (self.h, self.w, self.pad);
        let (pr, pw) = (grid.pr, grid.pw);
        p.par_chunks_mut(grid.phases())
            .enumerate()
            .for_each(|(i, dst)| {
                let (img, c) = (i / self.c_in, i % self.c_in);
                let src = x.plane(img, c, self.c_in, h * w);
                with_scratch_in(2, 2 * pw, |padded| {
                    for rh in 0..2 {
                        let (even_odd, rest) = dst[rh * 2 * pr * pw..].split_at_mut(pr * pw);
                        let (even, odd) = (even_odd, &mut rest[..pr * pw]);
                        for r in 0..pr {
                            let (even, odd) = (&mut even[r * pw..][..pw], &mut odd[r * pw..][..pw]);
                            let Some(ih) = (2 * r + rh).checked_sub(pad).filter(|&ih| ih < h)
                            else {
                                even.fill(0.0);
                                odd.fill(0.0);
                                continue;
                            };
                            // padded[q] = X[ih − pad][q − pad].
                            let inside = w.min(2 * pw - pad.min(2 * pw));
                            padded.fill(0.0);
                            padded[pad..pad + inside].copy_from_slice(&src[ih * w..][..inside]);
                            for ((pair, e), o) in padded.chunks_exact(2).zip(even).zip(odd) {
                                *e = pair[0];
                                *o = pair[1];
                            }
                        }
                    }
                })
            });
    }

    /// `U[block][ξ][c][o] = (G g Gᵀ)[ξ]` for the taps g from input channel c to output
    /// channel `block·OCB + o` (zero past the last channel); a block per task.
    fn transform_weights<const OCB: usize>(&self, w: &[f32], u: &mut [f32]) {
        u.par_chunks_mut(XI * self.c_in * OCB)
            .enumerate()
            .for_each(|(block, panel)| {
                for c in 0..self.c_in {
                    for o in 0..OCB {
                        let co = block * OCB + o;
                        let g: [[f32; 3]; 3] = std::array::from_fn(|kh| {
                            std::array::from_fn(|kw| {
                                if co < self.c_out {
                                    self.tap_index(co, c, kh, kw).map_or(0.0, |j| w[j])
                                } else {
                                    0.0
                                }
                            })
                        });
                        for (xi, v) in transform_taps(g).as_flattened().iter().enumerate() {
                            panel[(xi * self.c_in + c) * OCB + o] = *v;
                        }
                    }
                }
            });
    }

    /// `M[ξ][o][t] = Σ_c U[ξ][o][c] · V[ξ][c][t]` for the chunk's tiles: per position, the
    /// direct tiles' micro-kernel as a 1×1 correlation over `nt` tiles.
    fn multiply<const OCB: usize, const NV: usize>(
        &self,
        chunk: Chunk,
        u: &[f32],
        v: &[f32],
        m: &mut [f32],
        simd: bool,
    ) {
        let nt = chunk.nt;
        let frame = Frame {
            k: 1,
            taps: TapLists::all(1, nt),
            plane: nt,
            wp: nt,
            vstride: LANES,
            act: Act::Identity,
        };
        let part = Part {
            c0: 0,
            channels: self.c_in,
            first: true,
            last: true,
        };
        let zero = [0.0; OCB];
        let blocks = self.c_out.div_ceil(OCB);
        let span = NV * LANES;
        let mut acc = [[[0.0f32; LANES]; NV]; OCB];
        for xi in 0..XI {
            let v_xi = &v[xi * chunk.v_plane..][..self.c_in * nt];
            for block in 0..blocks {
                let panel = &u[(block * XI + xi) * self.c_in * OCB..][..self.c_in * OCB];
                let m_block = &mut m[xi * chunk.m_plane + block * OCB * nt..][..OCB * nt];
                #[cfg(target_arch = "x86_64")]
                if simd {
                    for t0 in (0..nt).step_by(span) {
                        // SAFETY: AVX2 and FMA were detected; v_xi holds c_in rows of nt,
                        // the panel c_in × OCB taps, m_block OCB rows of nt, and
                        // t0 + span ≤ nt.
                        unsafe {
                            multiply_avx2::<OCB, NV>(
                                v_xi.as_ptr().add(t0),
                                panel.as_ptr(),
                                (self.c_in, nt),
                                m_block.as_mut_ptr().add(t0),
                            )
                        };
                    }
                    continue;
                }
                for t0 in (0..nt).step_by(span) {
                    frame.tile::<OCB, NV>(&v_xi[t0..], panel, part, &zero, &mut acc, false);
                    for (o, lanes) in acc.iter().enumerate() {
                        m_block[o * nt + t0..][..span].copy_from_slice(lanes.as_flattened());
                    }
                }
            }
        }
    }

    /// Writes the chunk's outputs: `Y = Aᵀ M A` per tile, `act(Y + bias)`, times the
    /// mask's derivative with a mask; rows and columns past the output grid are dropped.
    /// `m` holds `M[ξ][o][t]` (positions `chunk.m_plane` apart).
    ///
    /// # Safety
    /// No other thread may write the chunk's outputs meanwhile.
    unsafe fn transform_output(
        &self,
        chunk: Chunk,
        m: &[f32],
        epi: BiasAct<'_>,
        out: &SharedOut,
        simd: bool,
    ) {
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: AVX2 was detected; the caller's promise is passed on.
            unsafe { self.transform_output_avx2(chunk, m, epi, out) };
            return;
        }
        let _ = simd;
        self.transform_output_body(chunk, m, epi, out);
    }

    /// [`transform_output`](Self::transform_output) in AVX2: the same additions, 8 tiles
    /// per vector, the tile's columns interleaved in registers.
    ///
    /// # Safety
    /// AVX2 must be available; as for `transform_output`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn transform_output_avx2(
        &self,
        chunk: Chunk,
        m: &[f32],
        epi: BiasAct<'_>,
        out: &SharedOut,
    ) {
        use std::arch::x86_64::*;
        let (nt, twp) = (chunk.nt, chunk.grid.twp);
        assert!(m.len() >= XI * chunk.m_plane && chunk.m_plane >= self.c_out * nt);
        assert!(chunk.rows * twp <= nt);
        let mp = m.as_ptr();
        let zero = _mm256_setzero_ps();
        for lr in 0..chunk.rows {
            let (img, th) = (
                (chunk.first + lr) / chunk.grid.th,
                (chunk.first + lr) % chunk.grid.th,
            );
            for o in 0..self.c_out {
                let bias = _mm256_set1_ps(self.bias(epi, o));
                for j0 in (0..twp).step_by(LANES) {
                    let at = lr * twp + j0;
                    let ld = |xi: usize| _mm256_loadu_ps(mp.add(xi * chunk.m_plane + o * nt + at));
                    // Aᵀ M (columns j), then (Aᵀ M) A (rows a).
                    let cols: [[__m256; 2]; 4] = std::array::from_fn(|j| {
                        let (m1, m2) = (ld(4 + j), ld(8 + j));
                        [
                            _mm256_add_ps(_mm256_add_ps(ld(j), m1), m2),
                            _mm256_sub_ps(_mm256_sub_ps(m1, m2), ld(12 + j)),
                        ]
                    });
                    for a in 0..2 {
                        let s = cols.map(|col| col[a]);
                        let row = 2 * th + a;
                        if row >= self.h_out {
                            break;
                        }
                        let even = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]);
                        let odd = _mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]);
                        let [even, odd] = [even, odd].map(|z| {
                            let z = _mm256_add_ps(z, bias);
                            match epi.act {
                                Act::Identity => z,
                                Act::Relu => _mm256_max_ps(z, zero),
                                Act::LeakyRelu(slope) => {
                                    let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(z, zero);
                                    let scaled = _mm256_mul_ps(z, _mm256_set1_ps(slope));
                                    _mm256_blendv_ps(scaled, z, positive)
                                }
                            }
                        });
                        // Tile l's two columns side by side: lanes 0–3, then 4–7.
                        let (lo, hi) =
                            (_mm256_unpacklo_ps(even, odd), _mm256_unpackhi_ps(even, odd));
                        let mut vals = [0.0f32; 2 * LANES];
                        _mm256_storeu_ps(vals.as_mut_ptr(), _mm256_permute2f128_ps::<0x20>(lo, hi));
                        _mm256_storeu_ps(
                            vals.as_mut_ptr().add(LANES),
                            _mm256_permute2f128_ps::<0x31>(lo, hi),
                        );
                        self.put(out, epi.mask, (img, o, row, 2 * j0), &vals);
                    }
                }
            }
        }
    }

    /// The portable [`transform_output`](Self::transform_output).
    ///
    /// # Safety
    /// As for `transform_output`.
    unsafe fn transform_output_body(
        &self,
        chunk: Chunk,
        m: &[f32],
        epi: BiasAct<'_>,
        out: &SharedOut,
    ) {
        let (nt, twp) = (chunk.nt, chunk.grid.twp);
        for lr in 0..chunk.rows {
            let (img, th) = (
                (chunk.first + lr) / chunk.grid.th,
                (chunk.first + lr) % chunk.grid.th,
            );
            for o in 0..self.c_out {
                let bias = self.bias(epi, o);
                for j0 in (0..twp).step_by(LANES) {
                    let at = lr * twp + j0;
                    let mx: [Lanes; XI] = std::array::from_fn(|xi| {
                        let src = &m[xi * chunk.m_plane + o * nt + at..][..LANES];
                        std::array::from_fn(|l| src[l])
                    });
                    let y = inverse(&mx);
                    for (a, pair) in y.iter().enumerate() {
                        let row = 2 * th + a;
                        if row >= self.h_out {
                            break;
                        }
                        let mut vals = [0.0f32; 2 * LANES];
                        for l in 0..LANES {
                            vals[2 * l] = apply(epi.act, pair[0][l] + bias);
                            vals[2 * l + 1] = apply(epi.act, pair[1][l] + bias);
                        }
                        self.put(out, epi.mask, (img, o, row, 2 * j0), &vals);
                    }
                }
            }
        }
    }

    /// Writes the outputs `vals` of 8 tiles of output channel `o` of image `img` along
    /// row `row` from column `col` (those inside the grid), times `act'(m)` with a mask
    /// `(act, m)`.
    ///
    /// # Safety
    /// No other thread may write these outputs meanwhile.
    #[inline(always)]
    unsafe fn put(
        &self,
        out: &SharedOut,
        mask: Option<(Act, &[f32])>,
        (img, o, row, col): (usize, usize, usize, usize),
        vals: &[f32; 2 * LANES],
    ) {
        let plane = self.h_out * self.w_out;
        let cols = (self.w_out - col).min(2 * LANES);
        let at = row * self.w_out + col;
        let dst = out.pixel(img, o, plane, at);
        match mask {
            None => std::ptr::copy_nonoverlapping(vals.as_ptr(), dst, cols),
            Some((act, m)) => {
                // One buffer: the output's layout is m's.
                let m = &m[(img * out.channels + o) * plane + at..][..cols];
                for (j, (v, &m)) in vals.iter().zip(m).enumerate() {
                    *dst.add(j) = v * derivative(act, m);
                }
            }
        }
    }
}

/// A chunk of a pass: tile rows `first..first + rows` (over images × tile rows), `nt`
/// tiles in its V and M (its `rows · twp` tiles rounded up to whole micro-kernel tiles).
#[derive(Clone, Copy, Debug)]
struct Chunk {
    first: usize,
    rows: usize,
    nt: usize,
    /// From one position ξ of V (of M) to the next: its channels × `nt`, then [`SKEW`].
    v_plane: usize,
    m_plane: usize,
    grid: Grid,
}

/// `V[ξ][c][t] = (Bᵀ d B)[ξ]` for the patch d of every tile t of the chunk from input
/// channel c (`c_in` channels of phase planes p); tiles past the chunk's rows are zero.
fn transform_input(c_in: usize, chunk: Chunk, p: &[f32], v: &mut [f32], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2 was detected.
        unsafe { transform_input_avx2(c_in, chunk, p, v) };
        return;
    }
    let _ = simd;
    transform_input_body(c_in, chunk, p, v);
}

/// [`transform_input`] in AVX2: the same additions, 8 tiles per vector.
///
/// # Safety
/// AVX2 must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn transform_input_avx2(c_in: usize, chunk: Chunk, p: &[f32], v: &mut [f32]) {
    use std::arch::x86_64::*;
    let Chunk {
        first,
        rows,
        nt,
        grid,
        ..
    } = chunk;
    let (pr, pw, twp) = (grid.pr, grid.pw, grid.twp);
    let images = (first + rows).div_ceil(grid.th);
    // Every read lies in the chunk's images' phase planes, every write in V.
    assert!(p.len() >= images * c_in * grid.phases() && rows * twp <= nt);
    assert!(v.len() >= XI * chunk.v_plane && chunk.v_plane >= c_in * nt);
    let (pp, vp) = (p.as_ptr(), v.as_mut_ptr());
    for c in 0..c_in {
        for lr in 0..rows {
            let (img, th) = ((first + lr) / grid.th, (first + lr) % grid.th);
            let base = (img * c_in + c) * grid.phases();
            for j0 in (0..twp).step_by(LANES) {
                // Bᵀ d (columns), d[i][j] from phase (i % 2, j % 2), row th + i / 2,
                // column j0 + j / 2.
                let cols: [[__m256; 4]; 4] = std::array::from_fn(|j| {
                    let d: [__m256; 4] = std::array::from_fn(|i| {
                        let ph = (i % 2) * 2 + j % 2;
                        _mm256_loadu_ps(pp.add(base + (ph * pr + th + i / 2) * pw + j0 + j / 2))
                    });
                    [
                        _mm256_sub_ps(d[0], d[2]),
                        _mm256_add_ps(d[1], d[2]),
                        _mm256_sub_ps(d[2], d[1]),
                        _mm256_sub_ps(d[1], d[3]),
                    ]
                });
                // (Bᵀ d) B (rows), into V[4i + k][c][tile].
                for i in 0..4 {
                    let t = cols.map(|col| col[i]);
                    let out = [
                        _mm256_sub_ps(t[0], t[2]),
                        _mm256_add_ps(t[1], t[2]),
                        _mm256_sub_ps(t[2], t[1]),
                        _mm256_sub_ps(t[1], t[3]),
                    ];
                    for (k, o) in out.into_iter().enumerate() {
                        _mm256_storeu_ps(
                            vp.add((4 * i + k) * chunk.v_plane + c * nt + lr * twp + j0),
                            o,
                        );
                    }
                }
            }
        }
        for xi in 0..XI {
            v[xi * chunk.v_plane + c * nt..][rows * twp..nt].fill(0.0);
        }
    }
}

/// `M[o][t0 + t] = Σ_c U[c][o] · V[c][t0 + t]` for `OCB` channels × `NV` vectors of tiles
/// in registers, stored straight into M (rows of `nt`).
///
/// # Safety
/// AVX2 and FMA must be available; `v` must hold `c_in` rows of `nt` (from the tile's
/// first), `u` `c_in × OCB` taps, `m` `OCB` rows of `nt`, and `NV · 8` tiles fit in a row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn multiply_avx2<const OCB: usize, const NV: usize>(
    v: *const f32,
    u: *const f32,
    (c_in, nt): (usize, usize),
    m: *mut f32,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); NV]; OCB];
    for c in 0..c_in {
        let (row, taps) = (v.add(c * nt), u.add(c * OCB));
        // The shorter operand list in registers, as in the direct tile.
        if NV <= OCB {
            let mut xv = [_mm256_setzero_ps(); NV];
            for (j, xv) in xv.iter_mut().enumerate() {
                *xv = _mm256_loadu_ps(row.add(j * LANES));
            }
            for (o, acc) in acc.iter_mut().enumerate() {
                let wv = _mm256_broadcast_ss(&*taps.add(o));
                for (a, xv) in acc.iter_mut().zip(&xv) {
                    *a = _mm256_fmadd_ps(wv, *xv, *a);
                }
            }
        } else {
            let mut wv = [_mm256_setzero_ps(); OCB];
            for (o, wv) in wv.iter_mut().enumerate() {
                *wv = _mm256_broadcast_ss(&*taps.add(o));
            }
            for j in 0..NV {
                let xv = _mm256_loadu_ps(row.add(j * LANES));
                for (acc, wv) in acc.iter_mut().zip(&wv) {
                    acc[j] = _mm256_fmadd_ps(*wv, xv, acc[j]);
                }
            }
        }
    }
    for (o, acc) in acc.iter().enumerate() {
        for (j, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(m.add(o * nt + j * LANES), *a);
        }
    }
}

/// The portable [`transform_input`].
fn transform_input_body(c_in: usize, chunk: Chunk, p: &[f32], v: &mut [f32]) {
    let Chunk {
        first,
        rows,
        nt,
        grid,
        ..
    } = chunk;
    let (pr, pw, twp) = (grid.pr, grid.pw, grid.twp);
    for c in 0..c_in {
        for lr in 0..rows {
            let (img, th) = ((first + lr) / grid.th, (first + lr) % grid.th);
            let base = (img * c_in + c) * grid.phases();
            for j0 in (0..twp).step_by(LANES) {
                // d[i][j] = X[2·th + i − pad][2·(j0 + lane) + j − pad]: phase (i % 2, j % 2),
                // row th + i / 2, column j0 + lane + j / 2.
                let d: [[Lanes; 4]; 4] = std::array::from_fn(|i| {
                    std::array::from_fn(|j| {
                        let ph = (i % 2) * 2 + j % 2;
                        let at = base + (ph * pr + th + i / 2) * pw + j0 + j / 2;
                        let src = &p[at..][..LANES];
                        std::array::from_fn(|l| src[l])
                    })
                });
                let t = forward(&d);
                for (xi, lanes) in t.as_flattened().iter().enumerate() {
                    v[xi * chunk.v_plane + c * nt + lr * twp + j0..][..LANES]
                        .copy_from_slice(lanes);
                }
            }
        }
        // Tiles past the chunk's rows, up to whole micro-kernel tiles.
        for xi in 0..XI {
            v[xi * chunk.v_plane + c * nt..][rows * twp..nt].fill(0.0);
        }
    }
}

/// `Bᵀ d B` lane by lane, with `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0],
/// [0, 1, 0, −1]]`.
#[inline(always)]
fn forward(d: &[[Lanes; 4]; 4]) -> [[Lanes; 4]; 4] {
    let bt = |d: [&Lanes; 4]| -> [Lanes; 4] {
        [
            std::array::from_fn(|l| d[0][l] - d[2][l]),
            std::array::from_fn(|l| d[1][l] + d[2][l]),
            std::array::from_fn(|l| d[2][l] - d[1][l]),
            std::array::from_fn(|l| d[1][l] - d[3][l]),
        ]
    };
    // Columns first (Bᵀ d), then rows ((Bᵀ d) B).
    let cols: [[Lanes; 4]; 4] =
        std::array::from_fn(|j| bt([&d[0][j], &d[1][j], &d[2][j], &d[3][j]]));
    std::array::from_fn(|i| bt([&cols[0][i], &cols[1][i], &cols[2][i], &cols[3][i]]))
}

/// `Aᵀ M A` lane by lane (`M` row-major, ξ = 4i + j), with `Aᵀ = [[1, 1, 1, 0],
/// [0, 1, −1, −1]]`: the tile's outputs `[row][column]`.
#[inline(always)]
fn inverse(m: &[Lanes; XI]) -> [[Lanes; 2]; 2] {
    let at = |d: [&Lanes; 4]| -> [Lanes; 2] {
        [
            std::array::from_fn(|l| d[0][l] + d[1][l] + d[2][l]),
            std::array::from_fn(|l| d[1][l] - d[2][l] - d[3][l]),
        ]
    };
    // Columns first (Aᵀ M: 2 × 4), then rows ((Aᵀ M) A: 2 × 2).
    let cols: [[Lanes; 2]; 4] =
        std::array::from_fn(|j| at([&m[j], &m[4 + j], &m[8 + j], &m[12 + j]]));
    std::array::from_fn(|a| at([&cols[0][a], &cols[1][a], &cols[2][a], &cols[3][a]]))
}

/// `G g Gᵀ` for 3×3 taps g, with `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`.
fn transform_taps(g: [[f32; 3]; 3]) -> [[f32; 4]; 4] {
    let gt = |v: [f32; 3]| {
        [
            v[0],
            0.5 * (v[0] + v[1] + v[2]),
            0.5 * (v[0] - v[1] + v[2]),
            v[2],
        ]
    };
    // Columns first (G g: 4 × 3), then rows ((G g) Gᵀ).
    let cols: [[f32; 4]; 3] = std::array::from_fn(|kw| gt([g[0][kw], g[1][kw], g[2][kw]]));
    std::array::from_fn(|i| gt([cols[0][i], cols[1][i], cols[2][i]]))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{rel_err, split_thirds};
    use super::super::Output;
    use super::*;
    use crate::ops::conv2d::reference;
    use crate::ops::gemm::im2col::Geometry;
    use crate::ops::{simd_available, Conv2dShape};
    use crate::selftest::Rng;

    fn f64s(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&v| v as f64).collect()
    }

    /// The Winograd forward pass (bias, leaky ReLU) and input gradient (bias, ReLU, and
    /// again through a mask) of `s`, with and without AVX2, against the f64 reference;
    /// the concatenated input and the input gradient in two parts equal the one-buffer
    /// passes bit for bit. Returns the forward pass's micro-kernel tile.
    fn check(s: Conv2dShape) -> (usize, usize) {
        let g = Geometry::new(&s);
        let (fwd, adj) = (Direct::forward(&g).unwrap(), Direct::adjoint(&g).unwrap());
        assert!(
            fwd.winograd() && adj.winograd(),
            "{s:?} takes the Winograd pass"
        );
        let mut rng = Rng(11);
        let x = rng.vec(s.x_len(), -1.0, 1.0);
        let w = rng.vec(s.w_len(), -1.0, 1.0);
        let dy = rng.vec(s.y_len(), -1.0, 1.0);
        let b_out = rng.vec(s.c_out, -1.0, 1.0);
        let b_in = rng.vec(s.c_in, -1.0, 1.0);
        let leaky = Act::LeakyRelu(0.2);
        let want_y =
            reference::conv2d_forward(&s, &f64s(&x), &f64s(&w), Some(&f64s(&b_out)), leaky)
                .unwrap();
        let plane = s.h * s.w;
        let want_dx: Vec<f64> = reference::conv2d_backward_input(&s, &f64s(&w), &f64s(&dy))
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, v)| (v + b_in[(i / plane) % s.c_in] as f64).max(0.0))
            .collect();
        let fwd_epi = BiasAct {
            bias: Some(&b_out),
            act: leaky,
            mask: None,
        };
        let adj_epi = BiasAct {
            bias: Some(&b_in),
            act: Act::Relu,
            mask: None,
        };
        for simd in [false, simd_available()] {
            let mut y = vec![f32::NAN; s.y_len()];
            fwd.run_pass(Input::One(&x), &w, fwd_epi, Output::One(&mut y), simd, true);
            let e = rel_err(&y, &want_y);
            assert!(e < 1e-5, "{s:?} forward (simd {simd}): relative error {e}");
            let mut dx = vec![f32::NAN; s.x_len()];
            adj.run_pass(
                Input::One(&dy),
                &w,
                adj_epi,
                Output::One(&mut dx),
                simd,
                true,
            );
            let e = rel_err(&dx, &want_dx);
            assert!(
                e < 1e-5,
                "{s:?} input gradient (simd {simd}): relative error {e}"
            );

            // x as [a; b] (a third of the channels first), ∂x written in those parts.
            let c_a = s.c_in.div_ceil(3);
            let (a, b) = split_thirds(&s, &x);
            let mut got = vec![f32::NAN; s.y_len()];
            let cat = Input::Cat { a: &a, b: &b, c_a };
            fwd.run_pass(cat, &w, fwd_epi, Output::One(&mut got), simd, true);
            assert!(got == y, "{s:?} forward of [a; b] (simd {simd})");
            let (mut da, mut db) = (vec![f32::NAN; a.len()], vec![f32::NAN; b.len()]);
            let parts = Output::Cat {
                a: &mut da,
                b: &mut db,
                c_a,
            };
            adj.run_pass(Input::One(&dy), &w, adj_epi, parts, simd, true);
            let (mut ia, mut ib) = (da.chunks(plane), db.chunks(plane));
            for (i, chan) in dx.chunks(plane).enumerate() {
                let part = if i % s.c_in < c_a { &mut ia } else { &mut ib };
                assert!(
                    part.next() == Some(chan),
                    "{s:?} ∂x channel {i} (simd {simd})"
                );
            }

            // Through a mask whose leaky ReLU passes some values at 1, others at 0.3.
            let m: Vec<f32> = (0..s.x_len()).map(|i| (i % 7) as f32 - 3.0).collect();
            let masked = BiasAct {
                mask: Some((Act::LeakyRelu(0.3), &m)),
                ..adj_epi
            };
            let mut got = vec![f32::NAN; s.x_len()];
            adj.run_pass(
                Input::One(&dy),
                &w,
                masked,
                Output::One(&mut got),
                simd,
                true,
            );
            let want: Vec<f32> = dx
                .iter()
                .zip(&m)
                .map(|(d, &m)| d * derivative(Act::LeakyRelu(0.3), m))
                .collect();
            assert!(got == want, "{s:?} masked ∂x (simd {simd})");
        }
        fwd.winograd_tile()
    }

    #[test]
    fn winograd_matches_the_f64_reference_at_awkward_sizes() {
        let shape = |n, c_in, h, w, c_out, pad| Conv2dShape {
            n,
            c_in,
            h,
            w,
            c_out,
            k: 3,
            stride: 1,
            pad,
        };
        // Odd output sides (a last tile row and column half outside), rows of tiles off
        // whole vectors (9, 12 and 21 tiles), channel counts off every micro-kernel tile
        // (6, 4, 3), pads 0 to 2, more channels than one chunk keeps.
        let tiles = [
            check(shape(2, 9, 13, 17, 13, 1)),
            check(shape(1, 8, 18, 24, 8, 1)),
            check(shape(3, 11, 7, 42, 9, 0)),
            check(shape(1, 10, 9, 19, 17, 2)),
            check(shape(2, 130, 5, 16, 12, 1)),
            check(shape(1, 12, 33, 40, 24, 1)),
        ];
        // Both micro-kernel tiles ran.
        assert!(
            tiles.contains(&(6, 2)) && tiles.contains(&(2, 6)),
            "{tiles:?}"
        );
    }

    #[test]
    fn winograd_transforms_match_their_matrices() {
        // G g Gᵀ, Bᵀ d B and Aᵀ M A against the matrices multiplied out in f64.
        let g_m = [
            [1.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0.0, 0.0, 1.0],
        ];
        let bt_m = [
            [1.0, 0.0, -1.0, 0.0],
            [0.0, 1.0, 1.0, 0.0],
            [0.0, -1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0, -1.0],
        ];
        let at_m = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];
        let mut rng = Rng(3);
        let g: [[f32; 3]; 3] =
            std::array::from_fn(|_| std::array::from_fn(|_| rng.vec(1, -1.0, 1.0)[0]));
        let u = transform_taps(g);
        for i in 0..4 {
            for j in 0..4 {
                let mut want = 0.0f64;
                for a in 0..3 {
                    for b in 0..3 {
                        want += g_m[i][a] * g[a][b] as f64 * g_m[j][b];
                    }
                }
                assert!((u[i][j] as f64 - want).abs() < 1e-6, "U[{i}][{j}]");
            }
        }
        let d: [[Lanes; 4]; 4] = std::array::from_fn(|_| {
            std::array::from_fn(|_| {
                let v = rng.vec(LANES, -1.0, 1.0);
                std::array::from_fn(|l| v[l])
            })
        });
        let v = forward(&d);
        let mx: [Lanes; XI] = std::array::from_fn(|xi| v[xi / 4][xi % 4]);
        let y = inverse(&mx);
        for l in 0..LANES {
            for i in 0..4 {
                for j in 0..4 {
                    let mut want = 0.0f64;
                    for a in 0..4 {
                        for b in 0..4 {
                            want += bt_m[i][a] * d[a][b][l] as f64 * bt_m[j][b];
                        }
                    }
                    assert!((v[i][j][l] as f64 - want).abs() < 1e-5, "V[{i}][{j}]");
                }
            }
            for a in 0..2 {
                for b in 0..2 {
                    let mut want = 0.0f64;
                    for i in 0..4 {
                        for j in 0..4 {
                            want += at_m[a][i] * v[i][j][l] as f64 * at_m[b][j];
                        }
                    }
                    assert!((y[a][b][l] as f64 - want).abs() < 1e-5, "Y[{a}][{b}]");
                }
            }
        }
    }
}
