//! [`Faulty`]: a device that runs every op on an inner device and then spoils the output
//! of one chosen op (its largest element is scaled by `1 + 1e-4`), to show that the
//! parity harness notices a small error in any op.

use satcolor::device::Device;
use satcolor::ops::registry;
use satcolor::ops::{
    Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape, LinearShape, Pool2dShape,
    SgdParams, Unpool,
};
use satcolor::Result;
use std::sync::LazyLock;

/// Every `Device` op method with the case op and the harness output name the spoiled
/// buffer shows up as: the registry's list (each op declares its methods there).
pub static SPOILABLE: LazyLock<Vec<(&str, &str, &str)>> = LazyLock::new(registry::spoilable);

/// Runs ops on `inner`; spoils the output of the op named `op` (a `Device` method name).
pub struct Faulty<D> {
    /// The device doing the work.
    pub inner: D,
    /// The method whose output is spoiled.
    pub op: &'static str,
}

impl<D: Device> Faulty<D> {
    /// Scales the largest-magnitude element of `buf` by `1 + 1e-4` when `op` is the
    /// chosen one.
    fn spoil(&self, op: &str, buf: &mut D::Buf) -> Result<()> {
        if op != self.op {
            return Ok(());
        }
        let mut v = self.inner.download(buf)?;
        if let Some(i) = (0..v.len()).max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs())) {
            v[i] *= 1.0 + 1e-4;
        }
        self.inner.write(buf, &v)
    }
}

impl<D: Device> Device for Faulty<D> {
    type Graph = D::Graph;
    type Buf = D::Buf;

    fn name(&self) -> String {
        format!("faulty {} on {}", self.op, self.inner.name())
    }
    fn alloc_zeros(&self, len: usize) -> Result<D::Buf> {
        self.inner.alloc_zeros(len)
    }
    fn upload(&self, host: &[f32]) -> Result<D::Buf> {
        self.inner.upload(host)
    }
    fn download(&self, buf: &D::Buf) -> Result<Vec<f32>> {
        self.inner.download(buf)
    }
    fn write(&self, buf: &mut D::Buf, host: &[f32]) -> Result<()> {
        self.inner.write(buf, host)
    }
    fn len(&self, buf: &D::Buf) -> usize {
        self.inner.len(buf)
    }
    fn alloc_count(&self) -> u64 {
        self.inner.alloc_count()
    }
    fn conv2d_forward(
        &self,
        s: &Conv2dShape,
        x: &D::Buf,
        w: &D::Buf,
        b: Option<&D::Buf>,
        act: Act,
        y: &mut D::Buf,
    ) -> Result<()> {
        self.inner.conv2d_forward(s, x, w, b, act, y)?;
        self.spoil("conv2d_forward", y)
    }
    fn conv2d_forward_pooled(
        &self,
        s: &Conv2dShape,
        x: &D::Buf,
        w: &D::Buf,
        b: Option<&D::Buf>,
        act: Act,
        y: &mut D::Buf,
        p: &mut D::Buf,
    ) -> Result<()> {
        self.inner.conv2d_forward_pooled(s, x, w, b, act, y, p)?;
        self.spoil("conv2d_forward_pooled", p)
    }
    fn conv2d_forward_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        ab: (&D::Buf, &D::Buf),
        w: &D::Buf,
        b: Option<&D::Buf>,
        act: Act,
        y: &mut D::Buf,
        scratch: &mut D::Buf,
    ) -> Result<()> {
        self.inner
            .conv2d_forward_cat(s, cat, ab, w, b, act, y, scratch)?;
        self.spoil("conv2d_forward_cat", y)
    }
    fn conv2d_backward_input_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        w: &D::Buf,
        dy: &D::Buf,
        (da, db): (&mut D::Buf, &mut D::Buf),
        scratch: &mut D::Buf,
    ) -> Result<()> {
        self.inner
            .conv2d_backward_input_cat(s, cat, w, dy, (&mut *da, &mut *db), scratch)?;
        self.spoil("conv2d_backward_input_cat", da)
    }
    fn conv2d_backward_weight_cat(
        &self,
        s: &Conv2dShape,
        cat: &ConcatShape,
        ab: (&D::Buf, &D::Buf),
        dy: &D::Buf,
        dw: &mut D::Buf,
        db: Option<&mut D::Buf>,
        scratch: &mut D::Buf,
    ) -> Result<()> {
        self.inner
            .conv2d_backward_weight_cat(s, cat, ab, dy, dw, db, scratch)?;
        self.spoil("conv2d_backward_weight_cat", dw)
    }
    fn conv2d_backward_input_act(
        &self,
        s: &Conv2dShape,
        w: &D::Buf,
        dy: &D::Buf,
        mask: (Act, &D::Buf),
        dx: &mut D::Buf,
    ) -> Result<()> {
        self.inner.conv2d_backward_input_act(s, w, dy, mask, dx)?;
        self.spoil("conv2d_backward_input_act", dx)
    }
    fn conv2d_backward_input_unpool(
        &self,
        s: &Conv2dShape,
        w: &D::Buf,
        dy: &D::Buf,
        unpool: Unpool<'_, D::Buf>,
        dp: &mut D::Buf,
        dx: &mut D::Buf,
    ) -> Result<()> {
        self.inner
            .conv2d_backward_input_unpool(s, w, dy, unpool, dp, dx)?;
        self.spoil("conv2d_backward_input_unpool", dx)
    }
    fn conv_transpose2d_backward_input_act(
        &self,
        s: &ConvTranspose2dShape,
        w: &D::Buf,
        dy: &D::Buf,
        mask: (Act, &D::Buf),
        dx: &mut D::Buf,
    ) -> Result<()> {
        self.inner
            .conv_transpose2d_backward_input_act(s, w, dy, mask, dx)?;
        self.spoil("conv_transpose2d_backward_input_act", dx)
    }
    fn conv2d_backward_input(
        &self,
        s: &Conv2dShape,
        w: &D::Buf,
        dy: &D::Buf,
        dx: &mut D::Buf,
    ) -> Result<()> {
        self.inner.conv2d_backward_input(s, w, dy, dx)?;
        self.spoil("conv2d_backward_input", dx)
    }
    fn conv2d_backward_weight(
        &self,
        s: &Conv2dShape,
        x: &D::Buf,
        dy: &D::Buf,
        dw: &mut D::Buf,
        db: Option<&mut D::Buf>,
    ) -> Result<()> {
        self.inner.conv2d_backward_weight(s, x, dy, dw, db)?;
        self.spoil("conv2d_backward_weight", dw)
    }
    fn conv_transpose2d_forward(
        &self,
        s: &ConvTranspose2dShape,
        x: &D::Buf,
        w: &D::Buf,
        b: Option<&D::Buf>,
        act: Act,
        y: &mut D::Buf,
    ) -> Result<()> {
        self.inner.conv_transpose2d_forward(s, x, w, b, act, y)?;
        self.spoil("conv_transpose2d_forward", y)
    }
    fn conv_transpose2d_backward_input(
        &self,
        s: &ConvTranspose2dShape,
        w: &D::Buf,
        dy: &D::Buf,
        dx: &mut D::Buf,
    ) -> Result<()> {
        self.inner.conv_transpose2d_backward_input(s, w, dy, dx)?;
        self.spoil("conv_transpose2d_backward_input", dx)
    }
    fn conv_transpose2d_backward_weight(
        &self,
        s: &ConvTranspose2dShape,
        x: &D::Buf,
        dy: &D::Buf,
        dw: &mut D::Buf,
        db: Option<&mut D::Buf>,
    ) -> Result<()> {
        self.inner
            .conv_transpose2d_backward_weight(s, x, dy, dw, db)?;
        self.spoil("conv_transpose2d_backward_weight", dw)
    }
    fn max_pool2d_forward(&self, s: &Pool2dShape, x: &D::Buf, y: &mut D::Buf) -> Result<()> {
        self.inner.max_pool2d_forward(s, x, y)?;
        self.spoil("max_pool2d_forward", y)
    }
    fn max_pool2d_backward(
        &self,
        s: &Pool2dShape,
        x: &D::Buf,
        dy: &D::Buf,
        act: Act,
        dx: &mut D::Buf,
    ) -> Result<()> {
        self.inner.max_pool2d_backward(s, x, dy, act, dx)?;
        self.spoil("max_pool2d_backward", dx)
    }
    fn max_pool2d_backward_add(
        &self,
        s: &Pool2dShape,
        x: &D::Buf,
        dy: &D::Buf,
        act: Act,
        dx: &mut D::Buf,
    ) -> Result<()> {
        self.inner.max_pool2d_backward_add(s, x, dy, act, dx)?;
        self.spoil("max_pool2d_backward_add", dx)
    }
    fn concat_channels(
        &self,
        s: &ConcatShape,
        a: &D::Buf,
        b: &D::Buf,
        y: &mut D::Buf,
    ) -> Result<()> {
        self.inner.concat_channels(s, a, b, y)?;
        self.spoil("concat_channels", y)
    }
    fn split_channels(
        &self,
        s: &ConcatShape,
        dy: &D::Buf,
        da: &mut D::Buf,
        db: &mut D::Buf,
    ) -> Result<()> {
        self.inner.split_channels(s, dy, da, db)?;
        self.spoil("split_channels", db)
    }
    fn act_backward(&self, act: Act, y: &D::Buf, dy: &mut D::Buf) -> Result<()> {
        self.inner.act_backward(act, y, dy)?;
        self.spoil("act_backward", dy)
    }
    fn convex_skip_forward(
        &self,
        theta: &D::Buf,
        a: &D::Buf,
        b: &D::Buf,
        u: &mut D::Buf,
    ) -> Result<()> {
        self.inner.convex_skip_forward(theta, a, b, u)?;
        self.spoil("convex_skip_forward", u)
    }
    fn convex_skip_backward(
        &self,
        theta: &D::Buf,
        a: &D::Buf,
        b: &D::Buf,
        du: &D::Buf,
        da: &mut D::Buf,
        db: &mut D::Buf,
        dtheta: &mut D::Buf,
    ) -> Result<()> {
        self.inner
            .convex_skip_backward(theta, a, b, du, da, db, dtheta)?;
        self.spoil("convex_skip_backward", dtheta)
    }
    fn linear_forward(
        &self,
        s: &LinearShape,
        x: &D::Buf,
        w: &D::Buf,
        b: &D::Buf,
        y: &mut D::Buf,
    ) -> Result<()> {
        self.inner.linear_forward(s, x, w, b, y)?;
        self.spoil("linear_forward", y)
    }
    fn linear_backward(
        &self,
        s: &LinearShape,
        x: &D::Buf,
        w: &D::Buf,
        dy: &D::Buf,
        dx: Option<&mut D::Buf>,
        dw: &mut D::Buf,
        db: &mut D::Buf,
    ) -> Result<()> {
        self.inner.linear_backward(s, x, w, dy, dx, dw, db)?;
        self.spoil("linear_backward", dw)
    }
    fn bce_with_logits(
        &self,
        z: &D::Buf,
        target: f32,
        first: usize,
        scale: f32,
        loss: &mut D::Buf,
        dz: &mut D::Buf,
    ) -> Result<()> {
        self.inner
            .bce_with_logits(z, target, first, scale, loss, dz)?;
        self.spoil("bce_with_logits", dz)
    }
    fn mse(
        &self,
        a: &D::Buf,
        b: &D::Buf,
        scale: f32,
        loss: &mut D::Buf,
        da: &mut D::Buf,
    ) -> Result<()> {
        self.inner.mse(a, b, scale, loss, da)?;
        self.spoil("mse", loss)
    }
    fn l2_penalty(&self, w: &D::Buf, scale: f32, loss: &mut D::Buf, dw: &mut D::Buf) -> Result<()> {
        self.inner.l2_penalty(w, scale, loss, dw)?;
        self.spoil("l2_penalty", dw)
    }
    fn add_assign(&self, dst: &mut D::Buf, src: &D::Buf) -> Result<()> {
        self.inner.add_assign(dst, src)?;
        self.spoil("add_assign", dst)
    }
    fn add_scaled(&self, dst: &mut D::Buf, src: &D::Buf, alpha: &D::Buf) -> Result<()> {
        self.inner.add_scaled(dst, src, alpha)?;
        self.spoil("add_scaled", dst)
    }
    fn sum(&self, x: &D::Buf, out: &mut D::Buf) -> Result<()> {
        self.inner.sum(x, out)?;
        self.spoil("sum", out)
    }
    fn sum_squares(&self, x: &D::Buf, out: &mut D::Buf) -> Result<()> {
        self.inner.sum_squares(x, out)?;
        self.spoil("sum_squares", out)
    }
    fn scale(&self, x: &mut D::Buf, factor: f32) -> Result<()> {
        self.inner.scale(x, factor)?;
        self.spoil("scale", x)
    }
    fn sgd_step(&self, hp: &SgdParams, p: &mut D::Buf, g: &D::Buf, mom: &mut D::Buf) -> Result<()> {
        self.inner.sgd_step(hp, p, g, mom)?;
        self.spoil("sgd_step", mom)
    }
    fn adam_step(
        &self,
        hp: &AdamParams,
        bias: &D::Buf,
        p: &mut D::Buf,
        g: &D::Buf,
        m: &mut D::Buf,
        v: &mut D::Buf,
    ) -> Result<()> {
        self.inner.adam_step(hp, bias, p, g, m, v)?;
        self.spoil("adam_step", v)
    }
}
