//! `impl Device for GpuDevice`: buffer management goes straight to the executor; every op
//! goes to the launch code of its family (`crate::ops::<family>::gpu`), which checks the
//! buffers and picks grid, block, shared memory and arguments.

use super::{Elem, GpuDevice, KernelExec};
use crate::device::Device;
use crate::dist::Collective;
use crate::ops::{
    activation, concat, conv2d, conv_transpose2d, convex_skip, elementwise, linear, loss,
    max_pool2d, optim, reduce, Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape,
    LinearShape, Pool2dShape, SgdParams, Unpool,
};
use crate::Result;
use std::sync::atomic::Ordering;

impl<E: KernelExec> Device for GpuDevice<E> {
    type Buf = E::Buf;
    type Graph = E::Graph;

    fn name(&self) -> String {
        self.exec.name()
    }
    fn precision(&self) -> crate::device::precision::Precision {
        GpuDevice::precision(self)
    }
    fn begin_graph(&self) -> Result<()> {
        if self.recording.swap(true, Ordering::SeqCst) {
            return Err(crate::Error::Device(
                "a launch graph is already being recorded".into(),
            ));
        }
        self.exec.begin_capture().inspect_err(|_| {
            self.recording.store(false, Ordering::SeqCst);
        })
    }
    fn has_graphs(&self) -> bool {
        true
    }
    fn begin_weight_grads(&self) -> Result<()> {
        self.begin_deferral()
    }
    fn end_weight_grads(&self) -> Result<()> {
        self.finish_weight_grads()
    }
    fn connect_ranks(&self, ranks: &dyn Collective) -> Result<bool> {
        self.exec.connect_ranks(ranks)
    }
    fn mean_over_ranks(&self, buf: &mut Self::Buf, ranks: &dyn Collective) -> Result<()> {
        self.host_side("averaging over ranks")?;
        if self.exec.elem(buf) == Elem::F32 && self.exec.mean_over_ranks(buf, ranks)? {
            return Ok(());
        }
        crate::device::mean_through_host(self, buf, ranks)
    }
    fn end_graph(&self) -> Result<Self::Graph> {
        self.recording.store(false, Ordering::SeqCst);
        self.exec.end_capture()
    }
    fn replay(&self, graph: &Self::Graph) -> Result<()> {
        self.host_side("replaying a graph")?;
        self.exec.replay(graph)
    }
    fn alloc_zeros(&self, len: usize) -> Result<Self::Buf> {
        self.host_side("allocation")?;
        match self.storage() {
            None => self.exec.alloc_zeros(len),
            Some(_) => self.exec.alloc(len, Elem::U16),
        }
    }
    fn upload(&self, host: &[f32]) -> Result<Self::Buf> {
        self.host_side("upload")?;
        match self.storage() {
            None => self.exec.upload(host),
            Some(_) => {
                let mut buf = self.exec.alloc(host.len(), Elem::U16)?;
                self.write(&mut buf, host)?;
                Ok(buf)
            }
        }
    }
    fn download(&self, buf: &Self::Buf) -> Result<Vec<f32>> {
        self.host_side("download")?;
        match (self.exec.elem(buf), self.storage()) {
            (Elem::U16, Some(f)) => {
                let bits = self.exec.download_u16(buf)?;
                Ok(bits.into_iter().map(|b| f.decode(b)).collect())
            }
            _ => self.exec.download(buf),
        }
    }
    fn write(&self, buf: &mut Self::Buf, host: &[f32]) -> Result<()> {
        self.host_side("host-to-device copy")?;
        match (self.exec.elem(buf), self.storage()) {
            (Elem::U16, Some(f)) => {
                let bits: Vec<u16> = host.iter().map(|&v| f.encode(v)).collect();
                self.exec.write_u16(buf, &bits)
            }
            _ => self.exec.write(buf, host),
        }
    }
    fn len(&self, buf: &Self::Buf) -> usize {
        self.exec.len(buf)
    }
    fn alloc_group(
        &self,
        lens: &[usize],
        spans: &[std::ops::Range<usize>],
    ) -> Result<crate::device::Group<Self::Buf>> {
        self.group(lens, spans)
    }
    fn alloc_count(&self) -> u64 {
        self.exec.alloc_count()
    }

    fn conv2d_forward(
        &self,
        s: &Conv2dShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
    ) -> Result<()> {
        conv2d::gpu::conv2d_forward(self, s, x, w, b, act, y)
    }
    fn conv2d_forward_pooled(
        &self,
        s: &Conv2dShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
        p: &mut Self::Buf,
    ) -> Result<()> {
        conv2d::gpu::conv2d_forward_pooled(self, s, x, w, b, act, y, p)
    }
    fn conv2d_forward_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        ab: (&Self::Buf, &Self::Buf),
        w: &Self::Buf,
        bias: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
        scratch: &mut Self::Buf,
    ) -> Result<()> {
        conv2d::gpu::conv2d_forward_cat(self, s, cat, ab, w, bias, act, y, scratch)
    }
    fn conv2d_backward_input_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        dab: (&mut Self::Buf, &mut Self::Buf),
        scratch: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("conv2d_backward_input_cat")?;
        conv2d::gpu::conv2d_backward_input_cat(self, s, cat, w, dy, dab, scratch)
    }
    fn conv2d_backward_weight_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        ab: (&Self::Buf, &Self::Buf),
        dy: &Self::Buf,
        dw: &mut Self::Buf,
        db: Option<&mut Self::Buf>,
        scratch: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("conv2d_backward_weight_cat")?;
        conv2d::gpu::conv2d_backward_weight_cat(self, s, cat, ab, dy, dw, db, scratch)
    }
    fn conv2d_backward_input_act(
        &self,
        s: &Conv2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        mask: (Act, &Self::Buf),
        dx: &mut Self::Buf,
    ) -> Result<()> {
        conv2d::gpu::conv2d_backward_input_act(self, s, w, dy, mask, dx)
    }
    fn conv2d_backward_input_unpool(
        &self,
        s: &Conv2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        unpool: Unpool<'_, Self::Buf>,
        dp: &mut Self::Buf,
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("conv2d_backward_input_unpool")?;
        conv2d::gpu::conv2d_backward_input_unpool(self, s, w, dy, unpool, dp, dx)
    }
    fn conv_transpose2d_backward_input_act(
        &self,
        s: &ConvTranspose2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        mask: (Act, &Self::Buf),
        dx: &mut Self::Buf,
    ) -> Result<()> {
        conv_transpose2d::gpu::conv_transpose2d_backward_input_act(self, s, w, dy, mask, dx)
    }
    fn conv2d_backward_input(
        &self,
        s: &Conv2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("conv2d_backward_input")?;
        conv2d::gpu::conv2d_backward_input(self, s, w, dy, dx)
    }
    fn conv2d_backward_weight(
        &self,
        s: &Conv2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        dw: &mut Self::Buf,
        db: Option<&mut Self::Buf>,
    ) -> Result<()> {
        self.fp32_storage("conv2d_backward_weight")?;
        conv2d::gpu::conv2d_backward_weight(self, s, x, dy, dw, db)
    }
    fn conv_transpose2d_forward(
        &self,
        s: &ConvTranspose2dShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: Option<&Self::Buf>,
        act: Act,
        y: &mut Self::Buf,
    ) -> Result<()> {
        conv_transpose2d::gpu::conv_transpose2d_forward(self, s, x, w, b, act, y)
    }
    fn conv_transpose2d_backward_input(
        &self,
        s: &ConvTranspose2dShape,
        w: &Self::Buf,
        dy: &Self::Buf,
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("conv_transpose2d_backward_input")?;
        conv_transpose2d::gpu::conv_transpose2d_backward_input(self, s, w, dy, dx)
    }
    fn conv_transpose2d_backward_weight(
        &self,
        s: &ConvTranspose2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        dw: &mut Self::Buf,
        db: Option<&mut Self::Buf>,
    ) -> Result<()> {
        self.fp32_storage("conv_transpose2d_backward_weight")?;
        conv_transpose2d::gpu::conv_transpose2d_backward_weight(self, s, x, dy, dw, db)
    }
    fn max_pool2d_forward(&self, s: &Pool2dShape, x: &Self::Buf, y: &mut Self::Buf) -> Result<()> {
        max_pool2d::gpu::max_pool2d_forward(self, s, x, y)
    }
    fn max_pool2d_backward(
        &self,
        s: &Pool2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        act: Act,
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("max_pool2d_backward")?;
        max_pool2d::gpu::max_pool2d_backward(self, s, x, dy, act, false, dx)
    }
    fn max_pool2d_backward_add(
        &self,
        s: &Pool2dShape,
        x: &Self::Buf,
        dy: &Self::Buf,
        act: Act,
        dx: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("max_pool2d_backward_add")?;
        max_pool2d::gpu::max_pool2d_backward(self, s, x, dy, act, true, dx)
    }
    fn concat_channels(
        &self,
        s: &ConcatShape,
        a: &Self::Buf,
        b: &Self::Buf,
        y: &mut Self::Buf,
    ) -> Result<()> {
        concat::gpu::concat_channels(self, s, a, b, y)
    }
    fn split_channels(
        &self,
        s: &ConcatShape,
        dy: &Self::Buf,
        da: &mut Self::Buf,
        db: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("split_channels")?;
        concat::gpu::split_channels(self, s, dy, da, db)
    }
    fn act_backward(&self, act: Act, y: &Self::Buf, dy: &mut Self::Buf) -> Result<()> {
        self.fp32_storage("act_backward")?;
        activation::gpu::act_backward(self, act, y, dy)
    }
    fn convex_skip_forward(
        &self,
        theta: &Self::Buf,
        a: &Self::Buf,
        b: &Self::Buf,
        u: &mut Self::Buf,
    ) -> Result<()> {
        convex_skip::gpu::convex_skip_forward(self, theta, a, b, u)
    }
    fn convex_skip_backward(
        &self,
        theta: &Self::Buf,
        a: &Self::Buf,
        b: &Self::Buf,
        du: &Self::Buf,
        da: &mut Self::Buf,
        db: &mut Self::Buf,
        dtheta: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("convex_skip_backward")?;
        convex_skip::gpu::convex_skip_backward(self, theta, a, b, du, da, db, dtheta)
    }
    fn linear_forward(
        &self,
        s: &LinearShape,
        x: &Self::Buf,
        w: &Self::Buf,
        b: &Self::Buf,
        y: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("linear_forward")?;
        linear::gpu::linear_forward(self, s, x, w, b, y)
    }
    fn linear_backward(
        &self,
        s: &LinearShape,
        x: &Self::Buf,
        w: &Self::Buf,
        dy: &Self::Buf,
        dx: Option<&mut Self::Buf>,
        dw: &mut Self::Buf,
        db: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("linear_backward")?;
        linear::gpu::linear_backward(self, s, x, w, dy, dx, dw, db)
    }
    fn bce_with_logits(
        &self,
        z: &Self::Buf,
        target: f32,
        first: usize,
        scale: f32,
        loss: &mut Self::Buf,
        dz: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("bce_with_logits")?;
        loss::gpu::bce_with_logits(self, z, target, first, scale, loss, dz)
    }
    fn mse(
        &self,
        a: &Self::Buf,
        b: &Self::Buf,
        scale: f32,
        loss: &mut Self::Buf,
        da: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("mse")?;
        loss::gpu::mse(self, a, b, scale, loss, da)
    }
    fn l2_penalty(
        &self,
        w: &Self::Buf,
        scale: f32,
        loss: &mut Self::Buf,
        dw: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("l2_penalty")?;
        loss::gpu::l2_penalty(self, w, scale, loss, dw)
    }
    fn add_assign(&self, dst: &mut Self::Buf, src: &Self::Buf) -> Result<()> {
        elementwise::gpu::add_assign(self, dst, src)
    }
    fn add_scaled(&self, dst: &mut Self::Buf, src: &Self::Buf, alpha: &Self::Buf) -> Result<()> {
        self.fp32_storage("add_scaled")?;
        elementwise::gpu::add_scaled(self, dst, src, alpha)
    }
    fn sum(&self, x: &Self::Buf, out: &mut Self::Buf) -> Result<()> {
        self.fp32_storage("sum")?;
        reduce::gpu::sum(self, x, out)
    }
    fn sum_squares(&self, x: &Self::Buf, out: &mut Self::Buf) -> Result<()> {
        self.fp32_storage("sum_squares")?;
        reduce::gpu::sum_squares(self, x, out)
    }
    fn scale(&self, x: &mut Self::Buf, factor: f32) -> Result<()> {
        self.fp32_storage("scale")?;
        elementwise::gpu::scale(self, x, factor)
    }
    fn sgd_step(
        &self,
        hp: &SgdParams,
        p: &mut Self::Buf,
        g: &Self::Buf,
        mom: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("sgd_step")?;
        optim::gpu::sgd_step(self, hp, p, g, mom)
    }
    fn adam_step(
        &self,
        hp: &AdamParams,
        bias: &Self::Buf,
        p: &mut Self::Buf,
        g: &Self::Buf,
        m: &mut Self::Buf,
        v: &mut Self::Buf,
    ) -> Result<()> {
        self.fp32_storage("adam_step")?;
        optim::gpu::adam_step(self, hp, bias, p, g, m, v)
    }
}
