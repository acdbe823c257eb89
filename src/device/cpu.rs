//! The native CPU device: buffers are `Vec<f32>` in host memory and every op runs the
//! multi-threaded implementation in its family's `cpu` module (`crate::ops::<family>::cpu`) (rayon; im2col + GEMM
//! convolutions). It is the default device on a machine without a GPU.

use super::Device;
use crate::ops::{
    self, check_len, Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape, LinearShape,
    Pool2dShape, SgdParams,
};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The native CPU device: ops run on rayon's global thread pool, or on a pool of its own
/// when built with [`CpuDevice::with_threads`]. Results do not depend on the number of
/// threads.
#[derive(Default)]
pub struct CpuDevice {
    allocs: AtomicU64,
    floats: AtomicU64,
    pool: Option<rayon::ThreadPool>,
    /// Time and calls per op, when profiling.
    profile: Option<Mutex<BTreeMap<&'static str, (Duration, u64)>>>,
}

/// The wall time one op took on a [profiled](CpuDevice::profiled) cpu device.
#[derive(Clone, Copy, Debug)]
pub struct OpTime {
    /// The [`Device`] method.
    pub op: &'static str,
    /// Its total wall time.
    pub time: Duration,
    /// How many times it ran.
    pub calls: u64,
}

impl CpuDevice {
    /// A device on rayon's global thread pool (`RAYON_NUM_THREADS` or one per core).
    pub fn new() -> Self {
        Self::default()
    }

    /// A device with a pool of its own of `threads` threads.
    pub fn with_threads(threads: usize) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Device(format!("cannot start {threads} cpu threads: {e}")))?;
        Ok(CpuDevice {
            pool: Some(pool),
            ..Self::default()
        })
    }

    /// Number of threads the ops run on.
    pub fn threads(&self) -> usize {
        self.pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
    }

    /// Elements of every buffer allocated or uploaded so far: what a model built on this
    /// device holds (see [`crate::train::step::memory_use`]).
    pub fn allocated_floats(&self) -> u64 {
        self.floats.load(Ordering::Relaxed)
    }

    /// Runs op `op`'s `f` on this device's threads (timed when profiling).
    fn run<R: Send>(&self, op: &'static str, f: impl FnOnce() -> R + Send) -> R {
        let start = self.profile.as_ref().map(|_| Instant::now());
        let r = match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        };
        if let (Some(profile), Some(start)) = (&self.profile, start) {
            let mut p = profile.lock().unwrap_or_else(|e| e.into_inner());
            let e = p.entry(op).or_default();
            e.0 += start.elapsed();
            e.1 += 1;
        }
        r
    }

    /// This device, timing every op it runs (see [`op_times`](Self::op_times)).
    pub fn profiled(mut self) -> Self {
        self.profile = Some(Mutex::default());
        self
    }

    /// Wall time and calls per op since the device was built or last
    /// [`reset_op_times`](Self::reset_op_times), longest first; empty unless
    /// [`profiled`](Self::profiled). A fused method the cpu device runs as two ops counts
    /// as those two.
    pub fn op_times(&self) -> Vec<OpTime> {
        let Some(profile) = &self.profile else {
            return Vec::new();
        };
        let p = profile.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<OpTime> = p
            .iter()
            .map(|(&op, &(time, calls))| OpTime { op, time, calls })
            .collect();
        v.sort_by_key(|t| std::cmp::Reverse(t.time));
        v
    }

    /// Clears the times [`op_times`](Self::op_times) reports.
    pub fn reset_op_times(&self) {
        if let Some(profile) = &self.profile {
            profile.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}

impl Device for CpuDevice {
    type Buf = Vec<f32>;
    /// None: the cpu device runs every op directly.
    type Graph = std::convert::Infallible;

    fn name(&self) -> String {
        format!("cpu ({} threads)", self.threads())
    }
    fn alloc_zeros(&self, len: usize) -> Result<Vec<f32>> {
        self.allocs.fetch_add(1, Ordering::Relaxed);
        self.floats.fetch_add(len as u64, Ordering::Relaxed);
        Ok(vec![0.0; len])
    }
    fn upload(&self, host: &[f32]) -> Result<Vec<f32>> {
        self.allocs.fetch_add(1, Ordering::Relaxed);
        self.floats.fetch_add(host.len() as u64, Ordering::Relaxed);
        Ok(host.to_vec())
    }
    fn download(&self, buf: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(buf.clone())
    }
    fn write(&self, buf: &mut Vec<f32>, host: &[f32]) -> Result<()> {
        check_len("write", "host data", host.len(), buf.len())?;
        buf.copy_from_slice(host);
        Ok(())
    }
    fn len(&self, buf: &Vec<f32>) -> usize {
        buf.len()
    }
    fn alloc_count(&self) -> u64 {
        self.allocs.load(Ordering::Relaxed)
    }

    fn conv2d_forward(
        &self,
        s: &Conv2dShape,
        x: &Vec<f32>,
        w: &Vec<f32>,
        b: Option<&Vec<f32>>,
        act: Act,
        y: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv2d_forward", || {
            ops::conv2d::cpu::conv2d_forward(s, x, w, b.map(|b| &b[..]), act, y)
        })
    }
    fn conv2d_backward_input(
        &self,
        s: &Conv2dShape,
        w: &Vec<f32>,
        dy: &Vec<f32>,
        dx: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv2d_backward_input", || {
            ops::conv2d::cpu::conv2d_backward_input(s, w, dy, dx)
        })
    }
    fn conv2d_forward_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        (a, b): (&Vec<f32>, &Vec<f32>),
        w: &Vec<f32>,
        bias: Option<&Vec<f32>>,
        act: Act,
        y: &mut Vec<f32>,
        scratch: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv2d_forward_cat", || {
            let bias = bias.map(|b| &b[..]);
            ops::conv2d::cpu::conv2d_forward_cat(s, cat, (a, b), w, bias, act, y, scratch)
        })
    }
    fn conv2d_backward_input_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        w: &Vec<f32>,
        dy: &Vec<f32>,
        (da, db): (&mut Vec<f32>, &mut Vec<f32>),
        scratch: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv2d_backward_input_cat", || {
            ops::conv2d::cpu::conv2d_backward_input_cat(s, cat, w, dy, (da, db), scratch)
        })
    }
    fn conv2d_backward_weight_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        (a, b): (&Vec<f32>, &Vec<f32>),
        dy: &Vec<f32>,
        dw: &mut Vec<f32>,
        db: Option<&mut Vec<f32>>,
        scratch: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv2d_backward_weight_cat", || {
            let db = db.map(|b| &mut b[..]);
            ops::conv2d::cpu::conv2d_backward_weight_cat(s, cat, (a, b), dy, dw, db, scratch)
        })
    }
    fn conv2d_backward_input_act(
        &self,
        s: &Conv2dShape,
        w: &Vec<f32>,
        dy: &Vec<f32>,
        (act, y): (Act, &Vec<f32>),
        dx: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv2d_backward_input_act", || {
            ops::conv2d::cpu::conv2d_backward_input_act(s, w, dy, (act, y), dx)
        })
    }
    fn conv2d_backward_weight(
        &self,
        s: &Conv2dShape,
        x: &Vec<f32>,
        dy: &Vec<f32>,
        dw: &mut Vec<f32>,
        db: Option<&mut Vec<f32>>,
    ) -> Result<()> {
        self.run("conv2d_backward_weight", || {
            ops::conv2d::cpu::conv2d_backward_weight(s, x, dy, dw, db.map(|b| &mut b[..]))
        })
    }
    fn conv_transpose2d_forward(
        &self,
        s: &ConvTranspose2dShape,
        x: &Vec<f32>,
        w: &Vec<f32>,
        b: Option<&Vec<f32>>,
        act: Act,
        y: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv_transpose2d_forward", || {
            ops::conv_transpose2d::cpu::conv_transpose2d_forward(s, x, w, b.map(|b| &b[..]), act, y)
        })
    }
    fn conv_transpose2d_backward_input(
        &self,
        s: &ConvTranspose2dShape,
        w: &Vec<f32>,
        dy: &Vec<f32>,
        dx: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv_transpose2d_backward_input", || {
            ops::conv_transpose2d::cpu::conv_transpose2d_backward_input(s, w, dy, dx)
        })
    }
    fn conv_transpose2d_backward_input_act(
        &self,
        s: &ConvTranspose2dShape,
        w: &Vec<f32>,
        dy: &Vec<f32>,
        (act, y): (Act, &Vec<f32>),
        dx: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("conv_transpose2d_backward_input_act", || {
            ops::conv_transpose2d::cpu::conv_transpose2d_backward_input_act(s, w, dy, (act, y), dx)
        })
    }
    fn conv_transpose2d_backward_weight(
        &self,
        s: &ConvTranspose2dShape,
        x: &Vec<f32>,
        dy: &Vec<f32>,
        dw: &mut Vec<f32>,
        db: Option<&mut Vec<f32>>,
    ) -> Result<()> {
        self.run("conv_transpose2d_backward_weight", || {
            ops::conv_transpose2d::cpu::conv_transpose2d_backward_weight(
                s,
                x,
                dy,
                dw,
                db.map(|b| &mut b[..]),
            )
        })
    }
    fn max_pool2d_forward(&self, s: &Pool2dShape, x: &Vec<f32>, y: &mut Vec<f32>) -> Result<()> {
        self.run("max_pool2d_forward", || {
            ops::max_pool2d::cpu::max_pool2d_forward(s, x, y)
        })
    }
    fn max_pool2d_backward(
        &self,
        s: &Pool2dShape,
        x: &Vec<f32>,
        dy: &Vec<f32>,
        act: Act,
        dx: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("max_pool2d_backward", || {
            ops::max_pool2d::cpu::max_pool2d_backward(s, x, dy, act, dx)
        })
    }
    fn max_pool2d_backward_add(
        &self,
        s: &Pool2dShape,
        x: &Vec<f32>,
        dy: &Vec<f32>,
        act: Act,
        dx: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("max_pool2d_backward_add", || {
            ops::max_pool2d::cpu::max_pool2d_backward_add(s, x, dy, act, dx)
        })
    }
    fn concat_channels(
        &self,
        s: &ConcatShape,
        a: &Vec<f32>,
        b: &Vec<f32>,
        y: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("concat_channels", || {
            ops::concat::cpu::concat_channels(s, a, b, y)
        })
    }
    fn split_channels(
        &self,
        s: &ConcatShape,
        dy: &Vec<f32>,
        da: &mut Vec<f32>,
        db: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("split_channels", || {
            ops::concat::cpu::split_channels(s, dy, da, db)
        })
    }
    fn act_backward(&self, act: Act, y: &Vec<f32>, dy: &mut Vec<f32>) -> Result<()> {
        self.run("act_backward", || {
            ops::activation::cpu::act_backward(act, y, dy)
        })
    }
    fn convex_skip_forward(
        &self,
        theta: &Vec<f32>,
        a: &Vec<f32>,
        b: &Vec<f32>,
        u: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("convex_skip_forward", || {
            ops::convex_skip::cpu::convex_skip_forward(theta, a, b, u)
        })
    }
    fn convex_skip_backward(
        &self,
        theta: &Vec<f32>,
        a: &Vec<f32>,
        b: &Vec<f32>,
        du: &Vec<f32>,
        da: &mut Vec<f32>,
        db: &mut Vec<f32>,
        dtheta: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("convex_skip_backward", || {
            ops::convex_skip::cpu::convex_skip_backward(theta, a, b, du, da, db, dtheta)
        })
    }
    fn linear_forward(
        &self,
        s: &LinearShape,
        x: &Vec<f32>,
        w: &Vec<f32>,
        b: &Vec<f32>,
        y: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("linear_forward", || {
            ops::linear::cpu::linear_forward(s, x, w, b, y)
        })
    }
    fn linear_backward(
        &self,
        s: &LinearShape,
        x: &Vec<f32>,
        w: &Vec<f32>,
        dy: &Vec<f32>,
        dx: Option<&mut Vec<f32>>,
        dw: &mut Vec<f32>,
        db: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("linear_backward", || {
            ops::linear::cpu::linear_backward(s, x, w, dy, dx.map(|d| &mut d[..]), dw, db)
        })
    }
    fn bce_with_logits(
        &self,
        z: &Vec<f32>,
        target: f32,
        first: usize,
        scale: f32,
        loss: &mut Vec<f32>,
        dz: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("bce_with_logits", || {
            ops::loss::cpu::bce_with_logits(z, target, first, scale, loss, dz)
        })
    }
    fn mse(
        &self,
        a: &Vec<f32>,
        b: &Vec<f32>,
        scale: f32,
        loss: &mut Vec<f32>,
        da: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("mse", || ops::loss::cpu::mse(a, b, scale, loss, da))
    }
    fn l2_penalty(
        &self,
        w: &Vec<f32>,
        scale: f32,
        loss: &mut Vec<f32>,
        dw: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("l2_penalty", || {
            ops::loss::cpu::l2_penalty(w, scale, loss, dw)
        })
    }
    fn add_assign(&self, dst: &mut Vec<f32>, src: &Vec<f32>) -> Result<()> {
        self.run("add_assign", || ops::elementwise::cpu::add_assign(dst, src))
    }
    fn add_scaled(&self, dst: &mut Vec<f32>, src: &Vec<f32>, alpha: &Vec<f32>) -> Result<()> {
        self.run("add_scaled", || {
            ops::elementwise::cpu::add_scaled(dst, src, alpha)
        })
    }
    fn sum(&self, x: &Vec<f32>, out: &mut Vec<f32>) -> Result<()> {
        self.run("sum", || ops::reduce::cpu::sum(x, out))
    }
    fn sum_squares(&self, x: &Vec<f32>, out: &mut Vec<f32>) -> Result<()> {
        self.run("sum_squares", || ops::reduce::cpu::sum_squares(x, out))
    }
    fn scale(&self, x: &mut Vec<f32>, factor: f32) -> Result<()> {
        self.run("scale", || ops::elementwise::cpu::scale(x, factor))
    }
    fn sgd_step(
        &self,
        hp: &SgdParams,
        p: &mut Vec<f32>,
        g: &Vec<f32>,
        mom: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("sgd_step", || ops::optim::cpu::sgd_step(hp, p, g, mom))
    }
    fn adam_step(
        &self,
        hp: &AdamParams,
        bias: &Vec<f32>,
        p: &mut Vec<f32>,
        g: &Vec<f32>,
        m: &mut Vec<f32>,
        v: &mut Vec<f32>,
    ) -> Result<()> {
        self.run("adam_step", || {
            ops::optim::cpu::adam_step(hp, bias, p, g, m, v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profiled_device_times_each_op_and_an_unprofiled_one_nothing() {
        let s = Conv2dShape {
            n: 2,
            c_in: 3,
            h: 9,
            w: 11,
            c_out: 5,
            k: 3,
            stride: 1,
            pad: 1,
        };
        let (x, w) = (vec![0.5; s.x_len()], vec![0.25; s.w_len()]);
        let mut y = vec![0.0; s.y_len()];
        let plain = CpuDevice::new();
        plain
            .conv2d_forward(&s, &x, &w, None, Act::Relu, &mut y)
            .unwrap();
        assert!(plain.op_times().is_empty());
        let dev = CpuDevice::new().profiled();
        for _ in 0..3 {
            dev.conv2d_forward(&s, &x, &w, None, Act::Relu, &mut y)
                .unwrap();
        }
        dev.act_backward(Act::Relu, &y.clone(), &mut y).unwrap();
        let times = dev.op_times();
        let calls: Vec<(&str, u64)> = times.iter().map(|t| (t.op, t.calls)).collect();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(calls.contains(&("conv2d_forward", 3)) && calls.contains(&("act_backward", 1)));
        assert!(times.iter().all(|t| t.time > Duration::ZERO));
        assert!(
            times.windows(2).all(|p| p[0].time >= p[1].time),
            "longest first"
        );
        dev.reset_op_times();
        assert!(dev.op_times().is_empty());
    }
}
