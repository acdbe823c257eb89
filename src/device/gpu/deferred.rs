//! Weight-gradient split-K sums deferred to the end of a backward pass
//! ([`Device::begin_weight_grads`](crate::device::Device::begin_weight_grads)): each
//! implicit-GEMM weight gradient whose K is split leaves its partial sums in a scratch of
//! its own and queues them; [`GpuDevice::finish_weight_grads`] adds every queued sum with
//! `sum_slices_batch` (8 per launch) instead of one or two `sum_slices_pair` launches per
//! layer. The sums run in the order the immediate finish uses, so results are the same
//! bit for bit.

use super::{GpuDevice, KernelExec};
use crate::ops::reduce::gpu::{sum_slices_batch, PendingSum};
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::MutexGuard;

/// The queued sums (`None`: not queueing).
pub(super) type Queue<B> = Option<Vec<PendingSum<B>>>;
/// Partial-sum scratches by (position in the queue, length).
pub(super) type PartsPool<B> = HashMap<(usize, usize), B>;

impl<E: KernelExec> GpuDevice<E> {
    /// Starts queueing weight-gradient split-K sums (dropping any a failed pass left
    /// queued).
    pub(crate) fn begin_deferral(&self) -> Result<()> {
        let stale = self.lock_deferred()?.replace(Vec::new());
        self.return_parts(stale.unwrap_or_default())
    }

    /// Whether split-K sums are being queued.
    pub(crate) fn deferring(&self) -> Result<bool> {
        Ok(self.lock_deferred()?.is_some())
    }

    /// Runs `launch` with one scratch of `slices · len(out)` floats per buffer of `outs`
    /// (views of the outputs; each scratch the partial sums of its output: `slices` slices
    /// of its length), then queues the sums of those slices into the outputs, added in two
    /// stages of `group` slices per row ([`PendingSum`]). Each scratch belongs to its position in the queue, so no
    /// queued sum's partials are overwritten before they are added; a training run has
    /// one sequence of shapes, so steady state never allocates.
    pub(crate) fn defer_split_sums(
        &self,
        outs: Vec<E::Buf>,
        (slices, group): (usize, usize),
        launch: impl FnOnce(&mut [E::Buf]) -> Result<()>,
    ) -> Result<()> {
        let at = self.lock_deferred()?.as_ref().map_or(0, Vec::len);
        let keys: Vec<(usize, usize)> = (outs.iter().enumerate())
            .map(|(i, out)| (at + i, slices * self.exec.len(out)))
            .collect();
        let mut parts = Vec::with_capacity(outs.len());
        for &key in &keys {
            let taken = self.lock_deferred_parts()?.remove(&key);
            parts.push(match taken {
                Some(buf) => buf,
                None => self.exec.alloc_zeros(key.1)?,
            });
        }
        if let Err(e) = launch(&mut parts) {
            let mut pool = self.lock_deferred_parts()?;
            pool.extend(keys.into_iter().zip(parts));
            return Err(e);
        }
        let pending =
            (parts.into_iter().zip(outs).enumerate()).map(|(i, (parts, out))| PendingSum {
                parts,
                out,
                slices,
                group,
                slot: at + i,
            });
        match self.lock_deferred()?.as_mut() {
            Some(queue) => {
                queue.extend(pending);
                Ok(())
            }
            None => Err(Error::Device(
                "weight-gradient sums were queued after the deferral ended".into(),
            )),
        }
    }

    /// Adds every queued split-K sum into its output and stops queueing; nothing when
    /// none is queued.
    pub(crate) fn finish_weight_grads(&self) -> Result<()> {
        let Some(mut queue) = self.lock_deferred()?.take() else {
            return Ok(());
        };
        let done = sum_slices_batch(self, "finish_weight_grads", &mut queue);
        self.return_parts(queue)?;
        done
    }

    /// Puts the partial-sum scratches of `queue` back in the pool.
    fn return_parts(&self, queue: Vec<PendingSum<E::Buf>>) -> Result<()> {
        let mut pool = self.lock_deferred_parts()?;
        for p in queue {
            let key = (p.slot, self.exec.len(&p.parts));
            pool.insert(key, p.parts);
        }
        Ok(())
    }

    /// The queue, locked.
    fn lock_deferred(&self) -> Result<MutexGuard<'_, Queue<E::Buf>>> {
        self.deferred
            .lock()
            .map_err(|_| Error::Device("the deferred sums' lock is poisoned".into()))
    }

    /// The scratch pool, locked.
    fn lock_deferred_parts(&self) -> Result<MutexGuard<'_, PartsPool<E::Buf>>> {
        self.deferred_parts
            .lock()
            .map_err(|_| Error::Device("the deferred partial sums' lock is poisoned".into()))
    }
}

#[cfg(test)]
mod tests {
    use crate::device::gpu::{ArgValue, GpuDevice};
    use crate::device::Device;
    use crate::ops::Conv2dShape;
    use crate::perf::record::{Dry, Recording};

    /// A 3×3 convolution of `c_in` → `c_out` channels on `n` maps of `h × w`.
    fn conv(n: usize, c_in: usize, c_out: usize, (h, w): (usize, usize)) -> Conv2dShape {
        Conv2dShape {
            n,
            c_in,
            h,
            w,
            c_out,
            k: 3,
            stride: 1,
            pad: 1,
        }
    }

    /// Between `begin_weight_grads` and `end_weight_grads` a split weight gradient
    /// launches only its kernel; the end adds the queued sums 8 to a launch, each slot
    /// with its length, slices and first-stage rows as the immediate finish has them.
    #[test]
    fn queued_sums_finish_eight_to_a_launch() {
        let dev = GpuDevice::new(Recording::new(Dry));
        // D's second conv at batch 16 (26 slices of 64·128·9 weights and of 128 biases,
        // one stage); the U-Net's lift at batch 16 (512 slices of 16·9 and of 16: two
        // stages of 16 rows of 32... of 16 slices each, as sum_slices_pair); a split
        // without bias (one entry).
        let shapes = [
            (conv(16, 64, 128, (32, 32)), true),
            (conv(16, 1, 16, (64, 64)), true),
            (conv(2, 5, 7, (13, 17)), false),
        ];
        dev.begin_weight_grads().unwrap();
        for _ in 0..3 {
            for (s, bias) in &shapes {
                let (x, dy) = (Dry::buf(s.x_len()), Dry::buf(s.y_len()));
                let (mut dw, mut db) = (Dry::buf(s.w_len()), Dry::buf(s.c_out));
                let db = bias.then_some(&mut db);
                crate::ops::conv2d::gpu::conv2d_backward_weight(&dev, s, &x, &dy, &mut dw, db)
                    .unwrap();
            }
        }
        let queued = dev.exec().take();
        assert_eq!(queued.len(), 9);
        assert!(queued
            .iter()
            .all(|l| l.kernel.starts_with("conv_wgrad_igemm")));
        dev.end_weight_grads().unwrap();
        let l = dev.exec().take();
        // 3 × (2 + 2 + 1) = 15 sums: 8, then 7 and an empty slot.
        assert_eq!(
            l.iter().map(|l| l.kernel).collect::<Vec<_>>(),
            ["sum_slices_batch"; 2]
        );
        let int = |i: usize, name: &str| match l[i].args.iter().find(|(n, _)| *n == name) {
            Some((_, ArgValue::I32(v))) => *v as usize,
            _ => panic!("{name}: no int argument"),
        };
        let slots: Vec<(usize, usize, usize)> = (0..2)
            .flat_map(|i| (0..8).map(move |s| (i, s)))
            .map(|(i, s)| {
                let f = |what: &str| int(i, &format!("{what}{s}"));
                (f("len"), f("slices"), f("group"))
            })
            .collect();
        let d2 = [(64 * 128 * 9, 26, 1), (128, 26, 1)];
        let lift = [(16 * 9, 512, 16), (16, 512, 16)];
        let plain = [(7 * 5 * 9, 3, 1)];
        let round: Vec<_> = d2.iter().chain(&lift).chain(&plain).copied().collect();
        let mut want: Vec<_> = round.iter().cycle().take(15).copied().collect();
        want.push((0, 0, 1));
        assert_eq!(slots, want);
        assert_eq!(
            int(0, "total"),
            want[..8].iter().map(|w| w.0).sum::<usize>()
        );
        assert_eq!(
            int(1, "total"),
            want[8..].iter().map(|w| w.0).sum::<usize>()
        );
        // Nothing queued: nothing launched.
        dev.begin_weight_grads().unwrap();
        dev.end_weight_grads().unwrap();
        assert!(dev.exec().take().is_empty());
    }

    /// On the emulator, weight and bias gradients finished together at the end equal the
    /// immediately finished ones bit for bit (one- and two-stage sums, with and without a
    /// bias, 10 queued sums in two launches), in FP32 and TF32.
    #[cfg(feature = "emu")]
    #[test]
    fn queued_sums_equal_immediate_ones_bit_for_bit() {
        use crate::device::emu::{EmuExec, EmuOptions};
        use crate::device::precision::Precision;
        use rand::{Rng, SeedableRng};
        let random = |len: usize, seed: u64| -> Vec<f32> {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
        };
        // K = 2·64·64 in 64 splits of 16 steps: two stages of 8 (27 + 3 outputs); K =
        // 2·13·17 in 3 splits; 5 → 33 channels (the 64×64 tile) on 9 × 30.
        let shapes = [
            (conv(2, 1, 3, (64, 64)), true),
            (conv(2, 5, 7, (13, 17)), true),
            (conv(2, 5, 7, (13, 17)), false),
            (conv(3, 5, 33, (9, 30)), true),
            (conv(2, 1, 3, (64, 64)), true),
            (conv(1, 2, 4, (40, 40)), true),
        ];
        for precision in [Precision::Fp32, Precision::Tf32] {
            let dev = GpuDevice::new(EmuExec::new(EmuOptions::default()).unwrap())
                .with_precision(precision);
            let inputs: Vec<_> = (shapes.iter().enumerate())
                .map(|(i, (s, _))| {
                    let seed = 10 * i as u64;
                    let x = dev.upload(&random(s.x_len(), seed)).unwrap();
                    let dy = dev.upload(&random(s.y_len(), seed + 1)).unwrap();
                    (x, dy)
                })
                .collect();
            let run = |deferred: bool| -> Vec<(Vec<f32>, Vec<f32>)> {
                let mut outs: Vec<_> = (shapes.iter())
                    .map(|(s, _)| {
                        let dw = dev.alloc_zeros(s.w_len()).unwrap();
                        (dw, dev.alloc_zeros(s.c_out).unwrap())
                    })
                    .collect();
                if deferred {
                    dev.begin_weight_grads().unwrap();
                }
                for (((s, bias), (x, dy)), (dw, db)) in shapes.iter().zip(&inputs).zip(&mut outs) {
                    let db = bias.then_some(db);
                    dev.conv2d_backward_weight(s, x, dy, dw, db).unwrap();
                }
                if deferred {
                    dev.end_weight_grads().unwrap();
                }
                (outs.iter())
                    .map(|(dw, db)| (dev.download(dw).unwrap(), dev.download(db).unwrap()))
                    .collect()
            };
            let (now, later) = (run(false), run(true));
            for (i, (a, b)) in now.iter().zip(&later).enumerate() {
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&a.0),
                    bits(&b.0),
                    "{precision:?}: weights of layer {i}"
                );
                assert_eq!(bits(&a.1), bits(&b.1), "{precision:?}: biases of layer {i}");
                assert!(a.0.iter().any(|&v| v != 0.0), "layer {i}: no gradient");
            }
        }
    }
}
