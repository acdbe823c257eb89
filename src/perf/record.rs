//! [`Recording`]: a kernel executor that runs every launch on another executor (a GPU or
//! the emulator) and keeps the kernel and arguments of each, from which
//! [`super::work::useful_work`] tells the work a benchmark did (`cargo bench --bench
//! kernels`: achieved TFLOP/s and GB/s on a GPU); over [`Dry`], which runs nothing, it
//! tells the launches of an op at once.

use super::work::{useful_work, Work};
use crate::device::gpu::{check_args, Arg, ArgValue, Elem, KernelExec, LaunchConfig};
use crate::kernels::Kernel;
use crate::Result;
use std::sync::Mutex;

/// One recorded launch.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    /// The kernel.
    pub kernel: &'static str,
    /// Its configuration.
    pub cfg: LaunchConfig,
    /// Its arguments by parameter name.
    pub args: Vec<(&'static str, ArgValue)>,
}

/// An executor that records what it launches on `E`.
pub struct Recording<E: KernelExec> {
    inner: E,
    log: Mutex<Vec<Launch>>,
    /// The records of the launches of a capture under way.
    captured: Mutex<Option<Vec<Launch>>>,
}

impl<E: KernelExec> Recording<E> {
    /// Records the launches made on `inner`.
    pub fn new(inner: E) -> Self {
        Recording {
            inner,
            log: Mutex::new(Vec::new()),
            captured: Mutex::new(None),
        }
    }
    /// The executor it launches on.
    pub fn inner(&self) -> &E {
        &self.inner
    }
    /// The launches since the last call, in order.
    pub fn take(&self) -> Vec<Launch> {
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

/// An executor that runs nothing: its buffers are only lengths and element types, its
/// launches are checked against the kernels' signatures ([`check_args`]) and dropped.
/// Under a [`Recording`], it tells what launches an op makes, and their useful work, at
/// once.
#[derive(Default)]
pub struct Dry;

impl Dry {
    /// A dry buffer of `len` f32.
    pub fn buf(len: usize) -> (usize, Elem) {
        (len, Elem::F32)
    }
}

impl KernelExec for Dry {
    type Buf = (usize, Elem);
    type Graph = ();
    fn name(&self) -> String {
        "dry (records launches, runs nothing)".into()
    }
    fn alloc(&self, len: usize, elem: Elem) -> Result<Self::Buf> {
        Ok((len, elem))
    }
    fn upload(&self, host: &[f32]) -> Result<Self::Buf> {
        Ok((host.len(), Elem::F32))
    }
    fn view(&self, buf: &Self::Buf, offset: usize, len: usize) -> Result<Self::Buf> {
        crate::device::gpu::check_view(buf.0, offset, len)?;
        Ok((len, buf.1))
    }
    fn write(&self, _: &mut Self::Buf, _: &[f32]) -> Result<()> {
        Ok(())
    }
    fn download(&self, buf: &Self::Buf) -> Result<Vec<f32>> {
        Ok(vec![0.0; buf.0])
    }
    fn write_u16(&self, _: &mut Self::Buf, _: &[u16]) -> Result<()> {
        Ok(())
    }
    fn download_u16(&self, buf: &Self::Buf) -> Result<Vec<u16>> {
        Ok(vec![0; buf.0])
    }
    fn len(&self, buf: &Self::Buf) -> usize {
        buf.0
    }
    fn elem(&self, buf: &Self::Buf) -> Elem {
        buf.1
    }
    fn alloc_count(&self) -> u64 {
        0
    }
    fn launch(
        &self,
        kernel: &'static Kernel,
        _: LaunchConfig,
        args: &mut [Arg<'_, Self::Buf>],
    ) -> Result<()> {
        check_args(kernel, args, |b| b.1)
    }
    fn begin_capture(&self) -> Result<()> {
        Ok(())
    }
    fn end_capture(&self) -> Result<()> {
        Ok(())
    }
    fn replay(&self, _: &()) -> Result<()> {
        Ok(())
    }
}

/// The useful work of `launches` together; an error names a kernel without a formula.
pub fn total_work(launches: &[Launch]) -> std::result::Result<Work, String> {
    let mut sum = Work::default();
    for l in launches {
        let w = useful_work(l.kernel, &l.args)?;
        sum.flops += w.flops;
        sum.bytes += w.bytes;
        sum.matmul |= w.matmul;
    }
    Ok(sum)
}

impl<E: KernelExec> KernelExec for Recording<E> {
    type Buf = E::Buf;
    /// The inner graph and the records of its launches, logged again at each replay.
    type Graph = (E::Graph, Vec<Launch>);
    fn name(&self) -> String {
        self.inner.name()
    }
    fn alloc(&self, len: usize, elem: Elem) -> Result<Self::Buf> {
        self.inner.alloc(len, elem)
    }
    fn upload(&self, host: &[f32]) -> Result<Self::Buf> {
        self.inner.upload(host)
    }
    fn view(&self, buf: &Self::Buf, offset: usize, len: usize) -> Result<Self::Buf> {
        self.inner.view(buf, offset, len)
    }
    fn write(&self, buf: &mut Self::Buf, host: &[f32]) -> Result<()> {
        self.inner.write(buf, host)
    }
    fn download(&self, buf: &Self::Buf) -> Result<Vec<f32>> {
        self.inner.download(buf)
    }
    fn write_u16(&self, buf: &mut Self::Buf, host: &[u16]) -> Result<()> {
        self.inner.write_u16(buf, host)
    }
    fn download_u16(&self, buf: &Self::Buf) -> Result<Vec<u16>> {
        self.inner.download_u16(buf)
    }
    fn len(&self, buf: &Self::Buf) -> usize {
        self.inner.len(buf)
    }
    fn elem(&self, buf: &Self::Buf) -> Elem {
        self.inner.elem(buf)
    }
    fn alloc_count(&self) -> u64 {
        self.inner.alloc_count()
    }
    fn launch(
        &self,
        kernel: &'static Kernel,
        cfg: LaunchConfig,
        args: &mut [Arg<'_, Self::Buf>],
    ) -> Result<()> {
        let record = Launch {
            kernel: kernel.name,
            cfg,
            args: args
                .iter()
                .map(|a| {
                    (
                        a.name(),
                        a.value(|b| (self.inner.len(b), self.inner.elem(b))),
                    )
                })
                .collect(),
        };
        self.inner.launch(kernel, cfg, args)?;
        if let Ok(mut c) = self.captured.lock() {
            if let Some(c) = c.as_mut() {
                c.push(record.clone());
            }
        }
        if let Ok(mut log) = self.log.lock() {
            log.push(record);
        }
        Ok(())
    }
    fn begin_capture(&self) -> Result<()> {
        self.inner.begin_capture()?;
        if let Ok(mut c) = self.captured.lock() {
            *c = Some(Vec::new());
        }
        Ok(())
    }
    fn end_capture(&self) -> Result<Self::Graph> {
        let graph = self.inner.end_capture()?;
        let records = self
            .captured
            .lock()
            .ok()
            .and_then(|mut c| c.take())
            .unwrap_or_default();
        Ok((graph, records))
    }
    fn replay(&self, graph: &Self::Graph) -> Result<()> {
        self.inner.replay(&graph.0)?;
        if let Ok(mut log) = self.log.lock() {
            log.extend(graph.1.iter().cloned());
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "emu"))]
mod tests {
    use super::*;
    use crate::device::emu::{EmuExec, EmuOptions};
    use crate::device::gpu::GpuDevice;
    use crate::device::Device;
    use crate::ops::{Act, Conv2dShape};

    #[test]
    fn a_recorded_convolution_has_its_work_by_hand() {
        let dev = GpuDevice::new(Recording::new(EmuExec::new(EmuOptions::default()).unwrap()));
        let s = Conv2dShape {
            n: 3,
            c_in: 2,
            h: 7,
            w: 9,
            c_out: 5,
            k: 3,
            stride: 2,
            pad: 1,
        };
        let x = dev.upload(&vec![1.0; s.x_len()]).unwrap();
        let w = dev.upload(&vec![1.0; s.w_len()]).unwrap();
        let b = dev.upload(&vec![1.0; s.c_out]).unwrap();
        let mut y = dev.alloc_zeros(s.y_len()).unwrap();
        dev.conv2d_forward(&s, &x, &w, Some(&b), Act::Relu, &mut y)
            .unwrap();
        let launches = dev.exec().take();
        assert_eq!(launches.len(), 1);
        // 5 output channels: the implicit GEMM's 256 × 16 tile, K = 18 unsplit.
        assert_eq!(launches[0].kernel, "conv_igemm_256x16");
        let work = total_work(&launches).unwrap();
        // 3·5·4·5 outputs (h_out 4, w_out 5) of 2·9 taps; x, w, bias and y once.
        assert_eq!(work.flops, 2.0 * (3 * 5 * 4 * 5 * 2 * 9) as f64);
        assert_eq!(
            work.bytes,
            4.0 * (s.x_len() + s.w_len() + 5 + s.y_len()) as f64
        );
        // Every value is 1: 18 taps + bias = 19 where no padding is read.
        assert!(dev
            .download(&y)
            .unwrap()
            .iter()
            .all(|&v| v > 0.0 && v <= 19.0));
        assert!(dev.exec().take().is_empty());
        // A dry run records the same launch, and computes nothing.
        let dry = GpuDevice::new(Recording::new(Dry));
        let (x, w, b) = (
            dry.upload(&vec![1.0; s.x_len()]).unwrap(),
            dry.alloc_zeros(s.w_len()).unwrap(),
            dry.alloc_zeros(5).unwrap(),
        );
        let mut y = dry.alloc_zeros(s.y_len()).unwrap();
        dry.conv2d_forward(&s, &x, &w, Some(&b), Act::Relu, &mut y)
            .unwrap();
        assert_eq!(dry.exec().take(), launches);
    }
}
