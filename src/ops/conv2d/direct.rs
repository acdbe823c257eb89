//! Direct convolution on the cpu device, without im2col: stride 1, and stride 2 through
//! its phases.
//!
//! Each output tile — `OCB` output channels × `8·NV` consecutive pixels of one output row
//! — is summed in `OCB·NV` AVX2 registers over (input channel, kh, kw): per tap, `NV`
//! unaligned loads of the input row and `OCB` broadcasts of packed weights feed `OCB·NV`
//! fused multiply-adds; the bias and activation are applied in registers. The input is
//! first copied once into a zero-padded buffer (so the tile needs no bounds checks) and
//! the weights into `[block][ci][kh][kw][OCB]` panels read in order; input channels are
//! taken in groups whose rows stay in L1 while every tile of an output row reads them.
//! im2col would copy every input value k² times (81 for 9×9) and the GEMM would pack that
//! copy again; here each value is read from cache.
//!
//! One routine serves four passes: a convolution's forward pass and, with the taps
//! flipped and the channel roles swapped, its input gradient, which is a stride-1
//! correlation of ∂y with padding `k − 1 − pad`; the transposed convolution's forward pass
//! and input gradient are those two the other way round. Stride 2 becomes stride 1: the
//! forward pass reads x's four phases `x[c][2i + rh][2j + rw]` as 4·c_in channels with
//! sub-kernels of the taps of each phase, and the input gradient writes ∂x's four phases as
//! 4·c_in output channels. The weight gradient ([`Direct::weight_gradient`]) sums
//! `∂y ⊗ x` in vector lanes over pixels, with the same phase split.
//!
//! Threads take (image, channel block, row chunk) tasks (weight gradient: (channel block,
//! input channel)); each output is summed by one thread in a fixed order, so results do
//! not depend on the number of threads. Without AVX2 and FMA (checked at run time) a
//! portable version of the same tiles runs.
//!
//! A stride-1 correlation with 3×3 taps, at least 8 channels in and out and rows of at
//! least 16 outputs (the U-Net's and D's 3×3 layers, forward and input gradient) runs
//! Winograd F(2×2, 3×3) instead (`direct/winograd.rs`: 2.25× fewer multiplies, through
//! the same register micro-kernel as a 1×1 correlation); [`Direct::run`] picks it.

use crate::ops::activation::cpu::{apply, derivative};
use crate::ops::gemm::im2col::Geometry;
use crate::ops::gemm::scratch::with_scratch_in;
use crate::ops::{simd_available, Act};
use rayon::prelude::*;
use std::cell::Cell;

mod winograd;

/// The epilogue of a pass: `y = act(sum + bias[channel])`, then, with a mask,
/// `y · act'(m)` (the gradient through the activation whose output m is).
#[derive(Clone, Copy)]
pub(crate) struct BiasAct<'a> {
    /// One bias per output channel, or none.
    pub bias: Option<&'a [f32]>,
    /// The activation.
    pub act: Act,
    /// An activation and its output m (the written tensor's shape, one buffer), whose
    /// derivative multiplies every result: an input gradient taken on through that
    /// activation.
    pub mask: Option<(Act, &'a [f32])>,
}

impl BiasAct<'_> {
    /// No bias, no activation: the sum itself.
    pub const NONE: BiasAct<'static> = BiasAct {
        bias: None,
        act: Act::Identity,
        mask: None,
    };
}

/// Lanes of one vector (AVX2, f32).
const LANES: usize = 8;

/// Floats of input rows a forward tile pass keeps in L1 (16 KiB of its 32).
const L1_FLOATS: usize = 4096;

/// Tiles of an output row whose partial sums one pass over the input channels carries (on
/// the stack: at most 12 × 8 × 8 floats); a row of more tiles takes several passes.
const ROW_TILES: usize = 8;

/// The tensor a pass reads, `[n][channels][plane]`: one buffer, or the channel
/// concatenation `[a; b]` of two (the U-Net decoder's up-sampled map and skip), read in
/// place.
#[derive(Clone, Copy)]
pub(crate) enum Input<'a> {
    /// One buffer.
    One(&'a [f32]),
    /// a's `c_a` channels, then b's.
    Cat {
        a: &'a [f32],
        b: &'a [f32],
        c_a: usize,
    },
}

impl<'a> Input<'a> {
    /// Elements in all.
    fn len(&self) -> usize {
        match self {
            Input::One(x) => x.len(),
            Input::Cat { a, b, .. } => a.len() + b.len(),
        }
    }

    /// Channel `c` of image `img`, of a tensor of `channels` channels of `plane` elements.
    fn plane(&self, img: usize, c: usize, channels: usize, plane: usize) -> &'a [f32] {
        let (buf, channels, c) = match *self {
            Input::One(x) => (x, channels, c),
            Input::Cat { a, c_a, .. } if c < c_a => (a, c_a, c),
            Input::Cat { b, c_a, .. } => (b, channels - c_a, c - c_a),
        };
        &buf[(img * channels + c) * plane..][..plane]
    }
}

/// The tensor a pass writes, `[n][channels][plane]`: one buffer, or the two parts `a`
/// (the first `c_a` channels) and `b` of a concatenation (the input gradient of a
/// convolution of `[a; b]`).
pub(crate) enum Output<'a> {
    /// One buffer.
    One(&'a mut [f32]),
    /// a's `c_a` channels, then b's.
    Cat {
        a: &'a mut [f32],
        b: &'a mut [f32],
        c_a: usize,
    },
}

impl Output<'_> {
    /// Elements in all.
    fn len(&self) -> usize {
        match self {
            Output::One(y) => y.len(),
            Output::Cat { a, b, .. } => a.len() + b.len(),
        }
    }

    /// The raw parts, for tasks that write disjoint elements.
    fn shared(&mut self, channels: usize) -> SharedOut {
        match self {
            Output::One(y) => SharedOut {
                a: y.as_mut_ptr(),
                b: y.as_mut_ptr(),
                c_a: channels,
                channels,
            },
            Output::Cat { a, b, c_a } => SharedOut {
                a: a.as_mut_ptr(),
                b: b.as_mut_ptr(),
                c_a: *c_a,
                channels,
            },
        }
    }
}

/// A stride-1 correlation `y[o][oh][ow] = Σ tap(o, c, kh, kw)·X[c][oh + kh − pad][ow + kw − pad]`
/// (zero outside X) over a batch of images, where X is the layer's input x, or its four
/// stride-2 phases as channels, and y lands in the layer's output directly or as its
/// four stride-2 phases (see [`Direct::forward`] and [`Direct::adjoint`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Direct {
    n: usize,
    /// Channels of X (`c_src·split²` for a forward pass).
    c_in: usize,
    /// Height and width of the tensor read (x of the layer, or ∂y).
    h: usize,
    w: usize,
    /// Channels of the correlation's output (`c_dst·split²` for an input gradient).
    c_out: usize,
    /// The correlation's output grid.
    h_out: usize,
    w_out: usize,
    /// Its kernel side and padding.
    k: usize,
    pad: usize,
    /// Height and width of the tensor written.
    y_h: usize,
    y_w: usize,
    /// The layer the taps come from.
    taps: Taps,
}

/// The layer whose weights a [`Direct`] correlation reads, and which pass it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Taps {
    /// The pass: the forward pass (`false`) or its adjoint, the input gradient (`true`).
    adjoint: bool,
    /// The layer's stride: 2 splits x (forward) or ∂x (adjoint) into its four phases
    /// `[c][2i + rh][2j + rw]` → channel `c·4 + rh·2 + rw`.
    stride: usize,
    /// The layer's kernel side, padding and input channels (w is `[c_out, c_in, k, k]`).
    k: usize,
    pad: usize,
    c_in: usize,
}

impl Direct {
    /// The forward pass of `g`, when this routine runs it well: stride 1, or stride 2 as
    /// a stride-1 correlation of x's four phases with `⌈k/2⌉`-ish sub-kernels
    /// (`X[c·4 + rh·2 + rw][i][j] = x[c][2i + rh][2j + rw]`, tap `(t, u)` of phase
    /// `(rh, rw)` = `w[pad + 2(t − pad′) + rh][…]`, zero outside w).
    pub fn forward(g: &Geometry) -> Option<Self> {
        let s = g.stride;
        if !(s == 1 || s == 2) || g.pad >= g.k {
            return None;
        }
        // Taps kh − pad = s·(t − pad′) + rh for rh < s: pad′ = ⌈pad/s⌉.
        let pad = g.pad.div_ceil(s);
        let k = pad + (g.k - 1 - g.pad) / s + 1;
        let d = Direct {
            n: g.n,
            c_in: g.c_in * s * s,
            h: g.h,
            w: g.w,
            c_out: g.c_out,
            h_out: g.h_out,
            w_out: g.w_out,
            k,
            pad,
            y_h: g.h_out,
            y_w: g.w_out,
            taps: Taps {
                adjoint: false,
                stride: s,
                k: g.k,
                pad: g.pad,
                c_in: g.c_in,
            },
        };
        d.worthwhile().then_some(d)
    }

    /// The input gradient of `g` (∂y `[n, c_out, h_out, w_out]` → ∂x `[n, c_in, h, w]`),
    /// when this routine runs it well: a correlation of ∂y with the flipped taps, for
    /// stride 2 one per phase of ∂x as output channels (tap `(t, u)` of phase `(rh, rw)` =
    /// `w[rh + pad + 2·pad′ − 2t][…]`, zero outside w).
    pub fn adjoint(g: &Geometry) -> Option<Self> {
        let s = g.stride;
        if !(s == 1 || s == 2) || g.pad >= g.k {
            return None;
        }
        // kh = rh + pad + s·(pad′ − t): the largest tap first, all of them reached.
        let pad = (g.k - 1 - g.pad) / s;
        let k = (s - 1 + g.pad + s * pad) / s + 1;
        let d = Direct {
            n: g.n,
            c_in: g.c_out,
            h: g.h_out,
            w: g.w_out,
            c_out: g.c_in * s * s,
            h_out: g.h.div_ceil(s),
            w_out: g.w.div_ceil(s),
            k,
            pad,
            y_h: g.h,
            y_w: g.w,
            taps: Taps {
                adjoint: true,
                stride: s,
                k: g.k,
                pad: g.pad,
                c_in: g.c_in,
            },
        };
        d.worthwhile().then_some(d)
    }

    /// Whether the direct tiles beat im2col + GEMM: rows at least a vector wide and a
    /// kernel wider than 1×1. A 1×1 correlation — a stride-1 pointwise convolution, or each
    /// phase of a 2×2 stride-2 one such as the U-Net's up-sampling — is a GEMM whose im2col
    /// is at most a permutation, and the 3-tap weight-gradient tile would spend two thirds
    /// of its work on taps that do not exist.
    fn worthwhile(&self) -> bool {
        self.k > 1 && self.k * self.k <= MAX_TAPS && self.w_out >= LANES
    }

    /// The taps a tile sums for each class of input channel, as offsets into padded rows
    /// `wp` wide: the forward pass of a stride-2 layer leaves out the taps of x's phase
    /// `c % 4` that fall outside w (zero for every output channel: a 5 × 5 kernel's
    /// phases have 9, 6, 6 and 4 of the 3 × 3 sub-kernel's taps); every other pass sums
    /// all k × k taps of one class.
    fn tap_lists(&self, wp: usize) -> TapLists {
        let classes = if !self.taps.adjoint && self.taps.stride == 2 {
            4
        } else {
            1
        };
        let mut lists = TapLists {
            mask: classes - 1,
            lens: [0; 4],
            offsets: [[0; MAX_TAPS]; 4],
        };
        for class in 0..classes {
            for kh in 0..self.k {
                for kw in 0..self.k {
                    // Channel `class` is phase `class` of x's channel 0.
                    if classes == 1 || self.tap_index(0, class, kh, kw).is_some() {
                        lists.offsets[class][lists.lens[class]] = kh * wp + kw;
                        lists.lens[class] += 1;
                    }
                }
            }
        }
        lists
    }

    /// Whether a tile's vectors lie in successive rows (a map one vector wide, such as
    /// the U-Net's 8 × 8 level) rather than along one row: a row's single vector then
    /// still shares each broadcast weight with `NV − 1` others.
    fn stacked(&self) -> bool {
        self.w_out <= LANES
    }

    /// The phase split of x (forward) and of y (adjoint).
    fn splits(&self) -> (usize, usize) {
        if self.taps.adjoint {
            (1, self.taps.stride)
        } else {
            (self.taps.stride, 1)
        }
    }

    /// The index in w of tap `(kh, kw)` from correlation input channel `c` to output
    /// channel `o`, or `None` for a zero tap (a phase's sub-kernel past w's edge).
    fn tap_index(&self, o: usize, c: usize, kh: usize, kw: usize) -> Option<usize> {
        let t = &self.taps;
        let s = t.stride as isize;
        let (k, pad, dpad) = (t.k as isize, t.pad as isize, self.pad as isize);
        // The phased channel (o for the adjoint, c for the forward pass) is (ci, rh, rw).
        let phased = if t.adjoint { o } else { c };
        let (ci, r) = (
            phased / (t.stride * t.stride),
            phased % (t.stride * t.stride),
        );
        let (rh, rw) = ((r / t.stride) as isize, (r % t.stride) as isize);
        let (co, kh, kw) = if t.adjoint {
            let at = |r: isize, tap: usize| r + pad + s * (dpad - tap as isize);
            (c, at(rh, kh), at(rw, kw))
        } else {
            let at = |r: isize, tap: usize| pad + s * (tap as isize - dpad) + r;
            (o, at(rh, kh), at(rw, kw))
        };
        let inside = |v: isize| (0..k).contains(&v);
        (inside(kh) && inside(kw))
            .then(|| ((co * t.c_in + ci) * t.k + kh as usize) * t.k + kw as usize)
    }

    /// Elements of one image of the tensor written.
    pub fn y_len(&self) -> usize {
        self.c_out / (self.splits().1 * self.splits().1) * self.y_h * self.y_w
    }

    /// Elements of one image of the tensor read.
    fn x_len(&self) -> usize {
        self.c_in / (self.splits().0 * self.splits().0) * self.h * self.w
    }

    /// Elements of w.
    fn w_len(&self) -> usize {
        let t = &self.taps;
        let c_out = if t.adjoint { self.c_in } else { self.c_out };
        c_out * t.c_in * t.k * t.k
    }

    /// `y = act(correlation(x) + bias)` for every image (`y` overwritten): by Winograd
    /// F(2×2, 3×3) where [`winograd`](Self::winograd) takes the correlation, otherwise
    /// by the direct tiles.
    pub fn run(&self, x: Input<'_>, w: &[f32], epi: BiasAct<'_>, y: Output<'_>) {
        self.run_pass(x, w, epi, y, simd_available(), self.winograd());
    }

    /// [`run`](Self::run) by the direct tiles alone, with the AVX2 tile only when `simd`
    /// (tests run both).
    #[cfg(test)]
    pub fn run_with(&self, x: Input<'_>, w: &[f32], epi: BiasAct<'_>, y: Output<'_>, simd: bool) {
        self.run_pass(x, w, epi, y, simd, false);
    }

    /// Checks the lengths and runs the pass by Winograd (when `winograd`) or the direct
    /// tiles, with AVX2 only when `simd`.
    fn run_pass(
        &self,
        x: Input<'_>,
        w: &[f32],
        epi: BiasAct<'_>,
        mut y: Output<'_>,
        simd: bool,
        winograd: bool,
    ) {
        if let Some(b) = epi.bias {
            assert_eq!(b.len() * self.splits().1.pow(2), self.c_out);
        }
        assert_eq!(x.len(), self.n * self.x_len());
        assert_eq!(w.len(), self.w_len());
        assert_eq!(y.len(), self.n * self.y_len());
        if let Some((_, m)) = epi.mask {
            assert!(matches!(y, Output::One(_)) && m.len() == y.len());
        }
        let y = y.shared(self.c_out / self.splits().1.pow(2));
        if winograd {
            self.run_winograd(x, w, epi, y, simd);
            return;
        }
        match self.shape_of_tile() {
            (12, 1) => self.run_tiles::<12, 1>(x, w, epi, y, simd),
            (6, 2) => self.run_tiles::<6, 2>(x, w, epi, y, simd),
            (4, 3) => self.run_tiles::<4, 3>(x, w, epi, y, simd),
            (3, 4) => self.run_tiles::<3, 4>(x, w, epi, y, simd),
            _ => self.run_tiles::<2, 6>(x, w, epi, y, simd),
        }
    }

    /// The tile (output channels, vectors of pixels) that wastes the fewest multiply-adds
    /// on padding channels and pixels; ties go to the earlier, squarer tile.
    fn shape_of_tile(&self) -> (usize, usize) {
        const TILES: [(usize, usize); 5] = [(6, 2), (4, 3), (3, 4), (12, 1), (2, 6)];
        let work = |&(ocb, nv): &(usize, usize)| {
            let pixels = if self.stacked() {
                self.h_out.div_ceil(nv) * nv * LANES
            } else {
                self.w_out.div_ceil(nv * LANES) * nv * LANES
            };
            self.c_out.div_ceil(ocb) * ocb * pixels
        };
        let best = TILES.iter().map(work).min().unwrap_or(0);
        TILES
            .into_iter()
            .find(|t| work(t) == best)
            .unwrap_or(TILES[0])
    }

    /// Copies x into `xp` (`[n][c_in][hp][wp]`, zero-padded) with the geometry the tiles
    /// read: channel `c·s² + rh·s + rw`, row `r`, column `q` hold
    /// `x[c][s·(r − pad) + rh][s·(q − pad) + rw]` (s the forward pass's phase split).
    fn pad_input(&self, x: Input<'_>, xp: &mut [f32], hp: usize, wp: usize) {
        let (h, w, pad) = (self.h, self.w, self.pad);
        let s = self.splits().0;
        let phases = s * s;
        xp.par_chunks_mut(hp * wp).enumerate().for_each(|(i, dst)| {
            let (img, c) = (i / self.c_in, i % self.c_in);
            let (src_c, rh, rw) = (c / phases, (c % phases) / s, c % s);
            let src = x.plane(img, src_c, self.c_in / phases, h * w);
            for (r, row) in dst.chunks_exact_mut(wp).enumerate() {
                let ih = (r * s + rh).checked_sub(pad * s).filter(|&ih| ih < h);
                let Some(ih) = ih else {
                    row.fill(0.0);
                    continue;
                };
                let src = &src[ih * w..][..w];
                // Columns q with 0 ≤ s·(q − pad) + rw < w.
                let lo = pad.min(wp);
                let hi = (pad + (w + s - 1 - rw) / s).min(wp);
                row[..lo].fill(0.0);
                if s == 1 {
                    row[lo..hi].copy_from_slice(&src[..hi - lo]);
                } else {
                    for (d, v) in row[lo..hi].iter_mut().zip(src[rw..].iter().step_by(s)) {
                        *d = *v;
                    }
                }
                row[hi..].fill(0.0);
            }
        });
    }

    /// Packs the taps into `[block][c][tap][OCB]` panels, the taps of channel c those of
    /// its class in `lists` (padded rows `wp` wide), zero for channels past c_out and for
    /// taps outside w; a block per task.
    fn pack_weights<const OCB: usize>(
        &self,
        w: &[f32],
        wk: &mut [f32],
        lists: &TapLists,
        wp: usize,
    ) {
        wk.par_chunks_mut(lists.before(self.c_in) * OCB)
            .enumerate()
            .for_each(|(block, panel)| {
                let mut i = 0;
                for c in 0..self.c_in {
                    for &off in lists.of(c) {
                        let (kh, kw) = (off / wp, off % wp);
                        for o in block * OCB..(block + 1) * OCB {
                            panel[i] = if o < self.c_out {
                                self.tap_index(o, c, kh, kw).map_or(0.0, |j| w[j])
                            } else {
                                0.0
                            };
                            i += 1;
                        }
                    }
                }
            });
    }

    /// Pads, packs and runs every tile of `OCB` channels × `NV` vectors.
    fn run_tiles<const OCB: usize, const NV: usize>(
        &self,
        x: Input<'_>,
        w: &[f32],
        epi: BiasAct<'_>,
        out: SharedOut,
        simd: bool,
    ) {
        // Pixels of a row per tile, and rows per tile.
        let (span, row_step) = if self.stacked() {
            (LANES, NV)
        } else {
            (NV * LANES, 1)
        };
        let (hp, wp) = (
            self.h_out.div_ceil(row_step) * row_step + self.k - 1,
            self.w_out.div_ceil(span) * span + self.k - 1,
        );
        let blocks = self.c_out.div_ceil(OCB);
        let lists = self.tap_lists(wp);
        let panel = lists.before(self.c_in) * OCB;
        with_scratch_in(0, self.n * self.c_in * hp * wp, |xp| {
            with_scratch_in(1, blocks * panel, |wk| {
                self.pad_input(x, xp, hp, wp);
                self.pack_weights::<OCB>(w, wk, &lists, wp);
                let frame = Frame {
                    k: self.k,
                    taps: lists,
                    plane: hp * wp,
                    wp,
                    vstride: if self.stacked() { wp } else { LANES },
                    act: epi.act,
                };
                // Channels per pass over a row's tiles: their k input rows stay in L1
                // while every tile of the output row reads them.
                let group = (L1_FLOATS / (self.k * wp)).clamp(1, self.c_in);
                // Enough row chunks for every thread to take several tasks.
                let threads = rayon::current_num_threads().max(1);
                let per_rows = self.n * blocks;
                let steps = self.h_out.div_ceil(row_step);
                let chunks = (8 * threads).div_ceil(per_rows).clamp(1, steps);
                let rows = steps.div_ceil(chunks) * row_step;
                let chunks = self.h_out.div_ceil(rows);
                let out = &out;
                let xp = &*xp;
                let wk = &*wk;
                (0..per_rows * chunks).into_par_iter().for_each(|task| {
                    let (img, rest) = (task / (blocks * chunks), task % (blocks * chunks));
                    let (block, chunk) = (rest / chunks, rest % chunks);
                    let x_img = &xp[img * self.c_in * hp * wp..][..self.c_in * hp * wp];
                    let panel = &wk[block * panel..][..panel];
                    let bias: [f32; OCB] = std::array::from_fn(|o| self.bias(epi, block * OCB + o));
                    let mut sums = [[[[0.0f32; LANES]; NV]; OCB]; ROW_TILES];
                    let tiles = self.w_out.div_ceil(span);
                    let oh_end = ((chunk + 1) * rows).min(self.h_out);
                    for oh in (chunk * rows..oh_end).step_by(row_step) {
                        for t0 in (0..tiles).step_by(ROW_TILES) {
                            let accs = &mut sums[..ROW_TILES.min(tiles - t0)];
                            for c0 in (0..self.c_in).step_by(group) {
                                let part = Part {
                                    c0,
                                    channels: group.min(self.c_in - c0),
                                    first: c0 == 0,
                                    last: c0 + group >= self.c_in,
                                };
                                let taps = &panel[lists.before(c0) * OCB..];
                                for (t, acc) in accs.iter_mut().enumerate() {
                                    let x = &x_img[c0 * hp * wp + oh * wp + (t0 + t) * span..];
                                    frame.tile::<OCB, NV>(x, taps, part, &bias, acc, simd);
                                }
                            }
                            for (t, acc) in accs.iter().enumerate() {
                                let ow = (t0 + t) * span;
                                // SAFETY: task (img, block, chunk) alone writes these outputs.
                                unsafe { self.store(out, epi.mask, img, block * OCB, oh, ow, acc) };
                            }
                        }
                    }
                });
            })
        })
    }

    /// The bias of correlation output channel `o` (a phase of ∂x takes its channel's), 0
    /// past the last channel or without a bias.
    fn bias(&self, epi: BiasAct<'_>, o: usize) -> f32 {
        let s = self.splits().1;
        match epi.bias {
            Some(b) if o < self.c_out => b[o / (s * s)],
            _ => 0.0,
        }
    }

    /// Writes a tile's valid channels and pixels into y, times `act'(m)` with a mask
    /// `(act, m)`: its vectors start at row `oh`, column `ow` of the correlation's grid,
    /// along the row or, [`stacked`](Self::stacked), one per row.
    ///
    /// # Safety
    /// No other thread may write these outputs meanwhile.
    #[allow(clippy::too_many_arguments)]
    unsafe fn store<const OCB: usize, const NV: usize>(
        &self,
        out: &SharedOut,
        mask: Option<(Act, &[f32])>,
        img: usize,
        o0: usize,
        oh: usize,
        ow: usize,
        acc: &[[[f32; LANES]; NV]; OCB],
    ) {
        let s = self.splits().1;
        let plane = self.y_h * self.y_w;
        // The tile's segments, each along one row from column ow: one, or one per row.
        let cols = (self.w_out - ow).min(NV * LANES);
        let segments = if self.stacked() {
            NV.min(self.h_out - oh)
        } else {
            1
        };
        for (o, lanes) in acc.iter().enumerate().take(self.c_out - o0.min(self.c_out)) {
            // Output channel c·s² + rh·s + rw is phase (rh, rw) of channel c.
            let (c, r) = ((o0 + o) / (s * s), (o0 + o) % (s * s));
            for seg in 0..segments {
                let (grid_row, src) = if self.stacked() {
                    (oh + seg, &lanes[seg][..cols])
                } else {
                    (oh, &lanes.as_flattened()[..cols])
                };
                let (row, col) = (grid_row * s + r / s, ow * s + r % s);
                if row >= self.y_h {
                    continue;
                }
                let at = row * self.y_w + col;
                let dst = out.pixel(img, c, plane, at);
                let cols = if s == 1 {
                    src.len()
                } else {
                    src.len().min((self.y_w - col).div_ceil(s))
                };
                match mask {
                    None if s == 1 => std::ptr::copy_nonoverlapping(src.as_ptr(), dst, cols),
                    None => {
                        for (j, v) in src[..cols].iter().enumerate() {
                            *dst.add(j * s) = *v;
                        }
                    }
                    Some((act, m)) => {
                        // One buffer: the output's layout is m's.
                        let m = &m[(img * out.channels + c) * plane + at..];
                        for (j, v) in src[..cols].iter().enumerate() {
                            *dst.add(j * s) = v * derivative(act, m[j * s]);
                        }
                    }
                }
            }
        }
    }
}

/// Output channels of a weight-gradient tile.
const WG_OUT: usize = 4;
/// Taps (kw) of a weight-gradient tile.
const WG_TAPS: usize = 3;
/// Vectors of output pixels a weight-gradient strip sums before the next tile reuses
/// them from L1 (8 rows of a 64-wide map, 8 images of an 8×8 map).
const WG_SPAN: usize = 64;

/// One weight-gradient tile's partial sums: `[o][kw][lane]`.
type WgAcc = [[[f32; LANES]; WG_TAPS]; WG_OUT];

impl Direct {
    /// `dw = Σ_n Σ_pixels ∂y ⊗ x` of the forward pass this describes (`dw` overwritten,
    /// `[c_out, c_in, k, k]`).
    ///
    /// Tasks take (block of 4 output channels, input channel); for each strip of about 64
    /// vectors of output pixels (8 rows of a 64-wide map, 8 images of an 8×8 map; ∂y's 4
    /// channels and x's rows in L1) every (kh, 3 kw) tile adds
    /// `Σ ∂y[o][oh][ow]·x[c][oh + kh][ow + kw]` per lane into its vector partial sums; the
    /// lanes are added at the end. Each weight is summed by one task in a fixed order.
    pub fn weight_gradient(&self, x: Input<'_>, dy: &[f32], dw: &mut [f32]) {
        self.weight_gradient_with(x, dy, dw, simd_available());
    }

    /// [`weight_gradient`](Self::weight_gradient), with AVX2 only when `simd`.
    pub fn weight_gradient_with(&self, x: Input<'_>, dy: &[f32], dw: &mut [f32], simd: bool) {
        assert!(!self.taps.adjoint);
        assert_eq!(x.len(), self.n * self.x_len());
        assert_eq!(dy.len(), self.n * self.y_len());
        assert_eq!(dw.len(), self.w_len());
        let k = self.k;
        let tap_blocks = k.div_ceil(WG_TAPS);
        let wq = self.w_out.div_ceil(LANES) * LANES;
        let (hp, wp) = (self.h_out + k - 1, wq + tap_blocks * WG_TAPS - 1);
        let blocks = self.c_out.div_ceil(WG_OUT);
        let dy_plane = self.h_out * wq;
        with_scratch_in(0, self.n * self.c_in * hp * wp, |xp| {
            with_scratch_in(1, self.n * blocks * WG_OUT * dy_plane, |dyp| {
                self.pad_input(x, xp, hp, wp);
                // ∂y with rows padded to whole vectors and channels to whole blocks.
                let hw = self.h_out * self.w_out;
                dyp.par_chunks_mut(dy_plane)
                    .enumerate()
                    .for_each(|(i, dst)| {
                        let (img, o) = (i / (blocks * WG_OUT), i % (blocks * WG_OUT));
                        if o >= self.c_out {
                            dst.fill(0.0);
                            return;
                        }
                        let src = &dy[(img * self.c_out + o) * hw..][..hw];
                        for (d, s) in dst.chunks_exact_mut(wq).zip(src.chunks_exact(self.w_out)) {
                            d[..self.w_out].copy_from_slice(s);
                            d[self.w_out..].fill(0.0);
                        }
                    });
                let out = SharedOut::flat(dw);
                let (xp, dyp) = (&*xp, &*dyp);
                (0..blocks * self.c_in).into_par_iter().for_each(|task| {
                    let (block, c) = (task / self.c_in, task % self.c_in);
                    with_wg_parts(k * tap_blocks, |part| {
                        // Strips of about WG_SPAN vectors: rows of one image, or whole
                        // images of a small map.
                        let vectors = wq / LANES;
                        let per_image = self.h_out * vectors;
                        let (images, rows) = if per_image >= WG_SPAN {
                            (1, (WG_SPAN / vectors).max(1))
                        } else {
                            (WG_SPAN / per_image, self.h_out)
                        };
                        let x_image = self.c_in * hp * wp;
                        let dy_image = blocks * WG_OUT * dy_plane;
                        for img in (0..self.n).step_by(images) {
                            let x_c = &xp[(img * self.c_in + c) * hp * wp..];
                            let dy_b = &dyp[(img * blocks + block) * WG_OUT * dy_plane..];
                            for oh in (0..self.h_out).step_by(rows) {
                                let strip = WgStrip {
                                    images: images.min(self.n - img),
                                    rows: rows.min(self.h_out - oh),
                                    vectors,
                                    dy_row: wq,
                                    dy_plane,
                                    dy_image,
                                    x_row: wp,
                                    x_image,
                                };
                                for kh in 0..k {
                                    for tb in 0..tap_blocks {
                                        let x0 = (oh + kh) * wp + tb * WG_TAPS;
                                        strip.add(
                                            &x_c[x0..],
                                            &dy_b[oh * wq..],
                                            &mut part[kh * tap_blocks + tb],
                                            simd,
                                        );
                                    }
                                }
                            }
                        }
                        let outs = WG_OUT.min(self.c_out - block * WG_OUT);
                        for kh in 0..k {
                            for kw in 0..k {
                                let tile = &part[kh * tap_blocks + kw / WG_TAPS];
                                for (o, lanes) in tile.iter().enumerate().take(outs) {
                                    // Every weight is one tap of one phase; the rest are
                                    // the zero taps past w's edge.
                                    let Some(i) = self.tap_index(block * WG_OUT + o, c, kh, kw)
                                    else {
                                        continue;
                                    };
                                    let sum = lanes[kw % WG_TAPS].iter().fold(0.0f32, |s, v| s + v);
                                    // SAFETY: task (block, c) alone writes these weights.
                                    unsafe { *out.at(i) = sum };
                                }
                            }
                        }
                    })
                });
            })
        })
    }
}

thread_local! {
    /// Each thread's weight-gradient partial sums, kept between tasks.
    static WG_PARTS: Cell<Vec<WgAcc>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on `len` zeroed weight-gradient tiles from the calling thread's reserve (grown
/// once, then reused: no allocation per task).
fn with_wg_parts<R>(len: usize, f: impl FnOnce(&mut [WgAcc]) -> R) -> R {
    let mut parts = WG_PARTS.with(Cell::take);
    parts.clear();
    parts.resize(len, [[[0.0; LANES]; WG_TAPS]; WG_OUT]);
    let r = f(&mut parts);
    WG_PARTS.with(|p| p.set(parts));
    r
}

/// A strip of a weight-gradient tile: `rows` output rows of `vectors` vectors in each of
/// `images` images, and the strides of the padded ∂y (`dy_row`; `dy_plane` per channel;
/// `dy_image`) and x (`x_row`, `x_image`).
struct WgStrip {
    images: usize,
    rows: usize,
    vectors: usize,
    dy_row: usize,
    dy_plane: usize,
    dy_image: usize,
    x_row: usize,
    x_image: usize,
}

impl WgStrip {
    /// `acc[o][j][l] += Σ_{i, r, v} dy[i·dy_image + o·dy_plane + r·dy_row + 8v + l]
    /// · x[i·x_image + r·x_row + 8v + j + l]`, summed in the order (i, r, v) per lane.
    fn add(&self, x: &[f32], dy: &[f32], acc: &mut WgAcc, simd: bool) {
        let span = self.vectors * LANES;
        assert!(self.images > 0 && self.rows > 0 && span > 0);
        let last_x = (self.images - 1) * self.x_image + (self.rows - 1) * self.x_row;
        let last_dy = (self.images - 1) * self.dy_image
            + (WG_OUT - 1) * self.dy_plane
            + (self.rows - 1) * self.dy_row;
        assert!(x.len() >= last_x + span + WG_TAPS - 1 && dy.len() >= last_dy + span);
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: AVX2 and FMA were detected, and the asserts keep every read in bounds.
            unsafe { self.add_avx2(x.as_ptr(), dy.as_ptr(), acc) };
            return;
        }
        let _ = simd;
        for i in 0..self.images {
            for r in 0..self.rows {
                let xr = &x[i * self.x_image + r * self.x_row..];
                let dr = &dy[i * self.dy_image + r * self.dy_row..];
                for p in 0..span {
                    let xs = &xr[p..p + WG_TAPS];
                    for (o, acc) in acc.iter_mut().enumerate() {
                        let d = dr[o * self.dy_plane + p];
                        for (a, &xv) in acc.iter_mut().zip(xs) {
                            a[p % LANES] += d * xv;
                        }
                    }
                }
            }
        }
    }

    /// [`WgStrip::add`] in AVX2: 12 accumulators, 3 loads of x and 4 of ∂y per vector.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `x` and `dy` must hold what [`WgStrip::add`]
    /// asserts.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn add_avx2(&self, x: *const f32, dy: *const f32, out: &mut WgAcc) {
        use std::arch::x86_64::*;
        let mut acc = [[_mm256_setzero_ps(); WG_TAPS]; WG_OUT];
        for (a, o) in acc.iter_mut().zip(out.iter()) {
            for (a, o) in a.iter_mut().zip(o) {
                *a = _mm256_loadu_ps(o.as_ptr());
            }
        }
        for i in 0..self.images {
            for r in 0..self.rows {
                let xr = x.add(i * self.x_image + r * self.x_row);
                let dr = dy.add(i * self.dy_image + r * self.dy_row);
                for v in 0..self.vectors {
                    let mut xv = [_mm256_setzero_ps(); WG_TAPS];
                    for (j, xv) in xv.iter_mut().enumerate() {
                        *xv = _mm256_loadu_ps(xr.add(v * LANES + j));
                    }
                    for (o, acc) in acc.iter_mut().enumerate() {
                        let d = _mm256_loadu_ps(dr.add(o * self.dy_plane + v * LANES));
                        for (a, xv) in acc.iter_mut().zip(&xv) {
                            *a = _mm256_fmadd_ps(d, *xv, *a);
                        }
                    }
                }
            }
        }
        for (o, a) in out.iter_mut().zip(&acc) {
            for (o, a) in o.iter_mut().zip(a) {
                _mm256_storeu_ps(o.as_mut_ptr(), *a);
            }
        }
    }
}

/// The base pointers of a tensor `[n][channels][plane]` written in two parts (channels
/// below `c_a` into `a`, the rest into `b`; one buffer has `a == b` and `c_a == channels`),
/// shared by tasks that write disjoint elements.
struct SharedOut {
    a: *mut f32,
    b: *mut f32,
    c_a: usize,
    channels: usize,
}
// SAFETY: tasks write disjoint elements (see `Direct::store`), and the buffers outlive
// them.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// One flat buffer (`at` only).
    fn flat(buf: &mut [f32]) -> Self {
        SharedOut {
            a: buf.as_mut_ptr(),
            b: buf.as_mut_ptr(),
            c_a: 1,
            channels: 1,
        }
    }

    /// The pointer to element `i` of a flat buffer.
    ///
    /// # Safety
    /// `i` must lie inside the buffer.
    unsafe fn at(&self, i: usize) -> *mut f32 {
        self.a.add(i)
    }

    /// The pointer to element `i` of channel `c` of image `img` (planes of `plane`).
    ///
    /// # Safety
    /// The element must lie inside the tensor.
    unsafe fn pixel(&self, img: usize, c: usize, plane: usize, i: usize) -> *mut f32 {
        if c < self.c_a {
            self.a.add((img * self.c_a + c) * plane + i)
        } else {
            let c_b = self.channels - self.c_a;
            self.b.add((img * c_b + c - self.c_a) * plane + i)
        }
    }
}

/// Which channels of the sum a tile call adds: `channels` of them, starting the sum
/// (`first`) or adding to the partial sums in the tile, and finishing it with the epilogue
/// (`last`).
#[derive(Clone, Copy)]
struct Part {
    /// The first channel's index in the pass (its class in [`TapLists`]).
    c0: usize,
    channels: usize,
    first: bool,
    last: bool,
}

/// Most taps per channel a direct tile sums (a 9 × 9 kernel).
const MAX_TAPS: usize = 81;

/// The taps a tile sums per channel, by class of channel (see [`Direct::tap_lists`]):
/// offsets `kh·wp + kw` into a padded channel, in the order the packed panel holds them.
#[derive(Clone, Copy)]
struct TapLists {
    /// Classes less one: channel c is of class `c & mask` (1 or 4 classes).
    mask: usize,
    /// The taps of each class.
    lens: [usize; 4],
    offsets: [[usize; MAX_TAPS]; 4],
}

impl TapLists {
    /// All taps of a k × k kernel on rows `wp` wide (k² ≤ [`MAX_TAPS`]), one class.
    fn all(k: usize, wp: usize) -> Self {
        let mut lists = TapLists {
            mask: 0,
            lens: [k * k, 0, 0, 0],
            offsets: [[0; MAX_TAPS]; 4],
        };
        for (i, off) in lists.offsets[0][..k * k].iter_mut().enumerate() {
            *off = (i / k) * wp + i % k;
        }
        lists
    }

    /// The taps of channel `c`.
    fn of(&self, c: usize) -> &[usize] {
        let class = c & self.mask;
        &self.offsets[class][..self.lens[class]]
    }

    /// Taps of channels `0..c` together: where channel c's start in a packed panel.
    fn before(&self, c: usize) -> usize {
        let classes = self.mask + 1;
        let cycle: usize = self.lens[..classes].iter().sum();
        (c / classes) * cycle + self.lens[..c % classes].iter().sum::<usize>()
    }
}

/// The padded input's strides and the kernel, as a tile reads them.
#[derive(Clone, Copy)]
struct Frame {
    /// The kernel side (the taps reach `k − 1` rows and columns on).
    k: usize,
    /// The taps summed per channel.
    taps: TapLists,
    /// Elements of one padded channel.
    plane: usize,
    /// Padded row width.
    wp: usize,
    /// From one of a tile's vectors to the next: 8 along a row, or a padded row
    /// ([`Direct::stacked`]).
    vstride: usize,
    /// The activation applied to `sum + bias` before the tile is written.
    act: Act,
}

impl Frame {
    /// `acc[o][v][l] (+)= Σ_{c,tap} panel[c][tap][o] · x[c·plane + offset(tap) + 8v + l]`
    /// over `part`'s channels and each channel's taps (x and panel starting at its first
    /// channel and the tile's first input pixel), then on the last part
    /// `acc = act(acc + bias[o])`.
    fn tile<const OCB: usize, const NV: usize>(
        &self,
        x: &[f32],
        panel: &[f32],
        part: Part,
        bias: &[f32; OCB],
        acc: &mut [[[f32; LANES]; NV]; OCB],
        simd: bool,
    ) {
        let reach = (part.channels - 1) * self.plane
            + (self.k - 1) * (self.wp + 1)
            + (NV - 1) * self.vstride
            + LANES;
        let taps = self.taps.before(part.c0 + part.channels) - self.taps.before(part.c0);
        assert!(x.len() >= reach && panel.len() >= taps * OCB);
        debug_assert!(self
            .taps
            .offsets
            .iter()
            .flatten()
            .all(|&o| o <= (self.k - 1) * (self.wp + 1)));
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: AVX2 and FMA were detected, and the assert keeps every read in bounds.
            unsafe { self.tile_avx2(x.as_ptr(), panel.as_ptr(), part, bias, acc) };
            return;
        }
        let _ = simd;
        self.tile_portable(x, panel, part, acc);
        if part.last {
            for (acc, &b) in acc.iter_mut().zip(bias) {
                for v in acc.as_flattened_mut() {
                    *v = apply(self.act, *v + b);
                }
            }
        }
    }

    /// The tile in AVX2: `OCB·NV` accumulators, `NV` loads and `OCB` broadcasts per tap
    /// (`OCB·NV + min(OCB, NV) + 1` ≤ 16 registers for every tile shape).
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `x` and `panel` must hold what [`Frame::tile`]
    /// asserts.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile_avx2<const OCB: usize, const NV: usize>(
        &self,
        x: *const f32,
        panel: *const f32,
        part: Part,
        bias: &[f32; OCB],
        out: &mut [[[f32; LANES]; NV]; OCB],
    ) {
        use std::arch::x86_64::*;
        let mut acc = [[_mm256_setzero_ps(); NV]; OCB];
        if !part.first {
            for (a, o) in acc.iter_mut().zip(out.iter()) {
                for (a, o) in a.iter_mut().zip(o) {
                    *a = _mm256_loadu_ps(o.as_ptr());
                }
            }
        }
        let mut wp = panel;
        for c in 0..part.channels {
            let channel = x.add(c * self.plane);
            for &off in self.taps.of(part.c0 + c) {
                let row = channel.add(off);
                // Hold the shorter of the two operand lists in registers: with the
                // 12 accumulators that keeps within the 16 ymm registers.
                if NV <= OCB {
                    let mut xv = [_mm256_setzero_ps(); NV];
                    for (v, xv) in xv.iter_mut().enumerate() {
                        *xv = _mm256_loadu_ps(row.add(v * self.vstride));
                    }
                    for (o, acc) in acc.iter_mut().enumerate() {
                        let wv = _mm256_broadcast_ss(&*wp.add(o));
                        for (a, xv) in acc.iter_mut().zip(&xv) {
                            *a = _mm256_fmadd_ps(wv, *xv, *a);
                        }
                    }
                } else {
                    let mut wv = [_mm256_setzero_ps(); OCB];
                    for (o, wv) in wv.iter_mut().enumerate() {
                        *wv = _mm256_broadcast_ss(&*wp.add(o));
                    }
                    for v in 0..NV {
                        let xv = _mm256_loadu_ps(row.add(v * self.vstride));
                        for (acc, wv) in acc.iter_mut().zip(&wv) {
                            acc[v] = _mm256_fmadd_ps(*wv, xv, acc[v]);
                        }
                    }
                }
                wp = wp.add(OCB);
            }
        }
        if !part.last {
            for (dst, acc) in out.iter_mut().zip(&acc) {
                for (d, a) in dst.iter_mut().zip(acc) {
                    _mm256_storeu_ps(d.as_mut_ptr(), *a);
                }
            }
            return;
        }
        // The epilogue in registers: the same operations as `apply`, lane by lane.
        let zero = _mm256_setzero_ps();
        for ((dst, acc), &b) in out.iter_mut().zip(&acc).zip(bias) {
            let b = _mm256_set1_ps(b);
            for (d, a) in dst.iter_mut().zip(acc) {
                let z = _mm256_add_ps(*a, b);
                let y = match self.act {
                    Act::Identity => z,
                    Act::Relu => _mm256_max_ps(z, zero),
                    Act::LeakyRelu(slope) => {
                        let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(z, zero);
                        _mm256_blendv_ps(_mm256_mul_ps(z, _mm256_set1_ps(slope)), z, positive)
                    }
                };
                _mm256_storeu_ps(d.as_mut_ptr(), y);
            }
        }
    }

    /// The tile in portable Rust (same order of additions per output, no fused multiply-add).
    fn tile_portable<const OCB: usize, const NV: usize>(
        &self,
        x: &[f32],
        panel: &[f32],
        part: Part,
        acc: &mut [[[f32; LANES]; NV]; OCB],
    ) {
        if part.first {
            *acc = [[[0.0; LANES]; NV]; OCB];
        }
        let mut taps = panel.chunks_exact(OCB);
        for c in 0..part.channels {
            for &off in self.taps.of(part.c0 + c) {
                let row = &x[c * self.plane + off..];
                let tap = taps.next().unwrap_or(&[]);
                for (acc, &wv) in acc.iter_mut().zip(tap) {
                    for (v, acc) in acc.iter_mut().enumerate() {
                        let xs = &row[v * self.vstride..][..LANES];
                        for (a, &xv) in acc.iter_mut().zip(xs) {
                            *a += wv * xv;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv2d::reference;
    use crate::ops::Conv2dShape;
    use crate::selftest::Rng;

    /// Largest |a − b| relative to the largest |b|.
    pub(super) fn rel_err(a: &[f32], b: &[f64]) -> f64 {
        let scale = b.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
        a.iter()
            .zip(b)
            .fold(0.0f64, |m, (&a, &b)| m.max((a as f64 - b).abs()))
            / scale
    }

    /// Both tiles (AVX2 where present, portable always) against the f64 reference, for
    /// the forward pass, the input gradient (each with a bias and an activation) and the
    /// weight gradient of `s`.
    fn check(s: Conv2dShape) {
        let g = Geometry::new(&s);
        let mut rng = Rng(7);
        let x = rng.vec(s.x_len(), -1.0, 1.0);
        let w = rng.vec(s.w_len(), -1.0, 1.0);
        let dy = rng.vec(s.y_len(), -1.0, 1.0);
        let b_out = rng.vec(s.c_out, -1.0, 1.0);
        let b_in = rng.vec(s.c_in, -1.0, 1.0);
        let f64s = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<_>>();
        // The forward pass with a bias and a leaky ReLU, the input gradient with a bias
        // and a ReLU (as the transposed convolution's forward pass uses it).
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
        let (want_dw, _) = reference::conv2d_backward_weight(&s, &f64s(&x), &f64s(&dy)).unwrap();
        let fwd = Direct::forward(&g).expect("a direct forward pass");
        let adj = Direct::adjoint(&g).expect("a direct input gradient");
        for simd in [false, simd_available()] {
            let mut y = vec![f32::NAN; s.y_len()];
            let epi = BiasAct {
                bias: Some(&b_out),
                act: leaky,
                mask: None,
            };
            fwd.run_with(Input::One(&x), &w, epi, Output::One(&mut y), simd);
            let e = rel_err(&y, &want_y);
            assert!(e < 1e-5, "{s:?} forward (simd {simd}): relative error {e}");
            let mut dx = vec![f32::NAN; s.x_len()];
            let epi = BiasAct {
                bias: Some(&b_in),
                act: Act::Relu,
                mask: None,
            };
            adj.run_with(Input::One(&dy), &w, epi, Output::One(&mut dx), simd);
            let e = rel_err(&dx, &want_dx);
            assert!(
                e < 1e-5,
                "{s:?} input gradient (simd {simd}): relative error {e}"
            );
            let mut dw = vec![f32::NAN; s.w_len()];
            fwd.weight_gradient_with(Input::One(&x), &dy, &mut dw, simd);
            let e = rel_err(&dw, &want_dw);
            assert!(
                e < 1e-5,
                "{s:?} weight gradient (simd {simd}): relative error {e}"
            );
            let inputs = (&x[..], &w[..], &dy[..]);
            check_cat_and_mask(s, inputs, (&b_out, &b_in), (&y, &dx, &dw), simd);
        }
    }

    /// x of shape `s` as the two parts `[a; b]` the tests concatenate: a the first third
    /// of each image's channels (rounded up), b the rest.
    pub(super) fn split_thirds(s: &Conv2dShape, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let c_a = s.c_in.div_ceil(3);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (i, chan) in x.chunks(s.h * s.w).enumerate() {
            let part = if i % s.c_in < c_a { &mut a } else { &mut b };
            part.extend_from_slice(chan);
        }
        (a, b)
    }

    /// The passes of `check` (biases `b_out` and `b_in`) reading x as the concatenation
    /// of its first third of channels and the rest, and writing ∂x in those two parts,
    /// equal the passes on one buffer (`y`, `dx`, `dw`) bit for bit; an input gradient
    /// through a mask (`· act'(m)`) equals the unmasked one times act'(m).
    fn check_cat_and_mask(
        s: Conv2dShape,
        (x, w, dy): (&[f32], &[f32], &[f32]),
        (b_out, b_in): (&[f32], &[f32]),
        (y, dx, dw): (&[f32], &[f32], &[f32]),
        simd: bool,
    ) {
        let g = Geometry::new(&s);
        let (fwd, adj) = (Direct::forward(&g).unwrap(), Direct::adjoint(&g).unwrap());
        let (c_a, plane) = (s.c_in.div_ceil(3), s.h * s.w);
        let (a, b) = split_thirds(&s, x);
        let cat = Input::Cat { a: &a, b: &b, c_a };
        let epi = BiasAct {
            bias: Some(b_out),
            act: Act::LeakyRelu(0.2),
            mask: None,
        };
        let mut got = vec![f32::NAN; s.y_len()];
        fwd.run_with(cat, w, epi, Output::One(&mut got), simd);
        assert!(got == y, "{s:?} forward of [a; b] (simd {simd})");
        let mut got = vec![f32::NAN; s.w_len()];
        fwd.weight_gradient_with(cat, dy, &mut got, simd);
        assert!(got == dw, "{s:?} weight gradient of [a; b] (simd {simd})");
        // ∂x in two parts, with the bias and ReLU of `check`'s input gradient.
        let relu = BiasAct {
            bias: Some(b_in),
            act: Act::Relu,
            mask: None,
        };
        let (mut da, mut db) = (vec![f32::NAN; a.len()], vec![f32::NAN; b.len()]);
        let parts = Output::Cat {
            a: &mut da,
            b: &mut db,
            c_a,
        };
        adj.run_with(Input::One(dy), w, relu, parts, simd);
        let (mut ia, mut ib) = (da.chunks(plane), db.chunks(plane));
        for (i, chan) in dx.chunks(plane).enumerate() {
            let part = if i % s.c_in < c_a { &mut ia } else { &mut ib };
            assert!(
                part.next() == Some(chan),
                "{s:?} ∂x channel {i} (simd {simd})"
            );
        }
        // A mask whose leaky ReLU passes some values at 1 and others at its slope.
        let m: Vec<f32> = (0..s.x_len()).map(|i| (i % 7) as f32 - 3.0).collect();
        let leaky = Act::LeakyRelu(0.3);
        let masked = BiasAct {
            mask: Some((leaky, &m)),
            ..relu
        };
        let mut got = vec![f32::NAN; s.x_len()];
        adj.run_with(Input::One(dy), w, masked, Output::One(&mut got), simd);
        let want: Vec<f32> = dx
            .iter()
            .zip(&m)
            .map(|(d, &m)| d * derivative(leaky, m))
            .collect();
        assert!(got == want, "{s:?} masked ∂x (simd {simd})");
    }

    #[test]
    fn direct_tiles_match_the_f64_reference_at_awkward_sizes() {
        let strided = |n, c_in, h, w, c_out, k, stride, pad| Conv2dShape {
            n,
            c_in,
            h,
            w,
            c_out,
            k,
            stride,
            pad,
        };
        let shape = |n, c_in, h, w, c_out, k, pad| strided(n, c_in, h, w, c_out, k, 1, pad);
        // Channel counts off every tile height (12, 6, 4, 3, 2), widths off every span
        // (8, 16, 24, 32, 48), kernels off the 3-tap weight-gradient tile, more rows than
        // its 8-row strips, non-square maps, pads 0 to k − 1.
        check(shape(2, 3, 13, 21, 5, 3, 1));
        check(shape(1, 2, 9, 10, 7, 3, 0));
        check(shape(3, 5, 11, 37, 13, 5, 2));
        check(shape(1, 4, 17, 19, 3, 9, 4));
        check(shape(2, 1, 10, 50, 1, 3, 2));
        check(shape(1, 7, 6, 27, 25, 5, 4));
        check(shape(2, 6, 21, 12, 9, 7, 3));
        // A small map: weight-gradient strips of 5 whole images, the last of 1.
        check(shape(11, 2, 6, 9, 5, 3, 1));
        // More input channels than one pass keeps in L1 (8 per pass of 9 rows of 56).
        check(shape(1, 24, 12, 40, 5, 9, 4));
        // A row of 13 tiles (12 channels × 8 pixels): two passes of at most 8.
        check(shape(1, 2, 5, 100, 12, 3, 1));
        // Maps one vector wide: tiles of rows stacked, row counts off every stack (7 and
        // 9 rows; 12, 6 and 3 channels tiles; an input gradient 8 wide, with a mask).
        check(shape(3, 5, 7, 8, 13, 3, 1));
        check(shape(2, 4, 9, 10, 7, 3, 0));
        check(shape(2, 9, 8, 8, 4, 3, 1));
        // Stride 2 by phases: odd and even sides, kernels 3, 4 and 5, pads 0 to 2.
        check(strided(2, 3, 13, 21, 5, 5, 2, 2));
        check(strided(1, 5, 16, 18, 6, 3, 2, 0));
        check(strided(1, 4, 17, 19, 3, 3, 2, 1));
        check(strided(2, 2, 11, 20, 7, 4, 2, 1));
        check(strided(1, 3, 9, 23, 4, 5, 2, 0));
        // Stride 2 onto 8 × 8 and 8-wide grids: stacked rows of x's phases and of ∂x's.
        check(strided(2, 3, 16, 16, 5, 3, 2, 1));
        check(strided(1, 4, 13, 15, 6, 3, 2, 1));
        // 160 phase channels in L1 passes of 27: passes that start mid-way through a
        // channel's four phases, each phase with its own taps.
        check(strided(1, 40, 9, 90, 6, 5, 2, 2));
    }

    #[test]
    fn stride_2_forward_passes_sum_only_the_taps_inside_w() {
        let s = |k, pad| Conv2dShape {
            n: 1,
            c_in: 2,
            h: 20,
            w: 20,
            c_out: 3,
            k,
            stride: 2,
            pad,
        };
        let lens = |s: Conv2dShape| {
            let lists = Direct::forward(&Geometry::new(&s)).unwrap().tap_lists(30);
            (lists.mask + 1, lists.lens)
        };
        // 5 × 5: phases of 3 × 3, 3 × 2, 2 × 3, 2 × 2 taps; 3 × 3 (pad 1): 2 × 2 … 1 × 1.
        assert_eq!(lens(s(5, 2)), (4, [9, 6, 6, 4]));
        assert_eq!(lens(s(3, 1)), (4, [1, 2, 2, 4]));
        // The input gradient keeps one class of all taps.
        let adj = Direct::adjoint(&Geometry::new(&s(5, 2)))
            .unwrap()
            .tap_lists(30);
        assert_eq!((adj.mask, adj.lens[0]), (0, 9));
        // Channel 6 (x's channel 1, phase (1, 0): 2 rows × 3 columns of taps) starts
        // after channel 0's 25 taps and channel 1's first two phases.
        let lists = Direct::forward(&Geometry::new(&s(5, 2)))
            .unwrap()
            .tap_lists(30);
        assert_eq!(lists.before(6), 25 + 9 + 6);
        assert_eq!(lists.of(6), &[0, 1, 2, 30, 31, 32][..]);
    }

    #[test]
    fn tiles_are_chosen_for_the_least_padding_work() {
        let d = |c_out, w_out| {
            let s = Conv2dShape {
                n: 1,
                c_in: 1,
                h: 1,
                w: w_out,
                c_out,
                k: 3,
                stride: 1,
                pad: 1,
            };
            Direct::forward(&Geometry::new(&s)).unwrap()
        };
        // 33 channels × 64 pixels beat 36 × 64 (6 × 2, 12 × 1) and 32 × 72 (4 × 3).
        assert_eq!(d(32, 64).shape_of_tile(), (3, 4));
        assert_eq!(d(3, 64).shape_of_tile(), (3, 4));
        assert_eq!(d(12, 8).shape_of_tile(), (12, 1));
        assert_eq!(d(6, 16).shape_of_tile(), (6, 2));
        // On an 8 × 8 map the vectors are rows: 129 channels × 8 rows (3 × 4) beat
        // 132 × 8 (6 × 2, 12 × 1) and 128 × 9 (4 × 3).
        let s = Conv2dShape {
            n: 1,
            c_in: 1,
            h: 8,
            w: 8,
            c_out: 128,
            k: 3,
            stride: 1,
            pad: 1,
        };
        let square = Direct::forward(&Geometry::new(&s)).unwrap();
        assert!(square.stacked());
        assert_eq!(square.shape_of_tile(), (3, 4));
    }
}
