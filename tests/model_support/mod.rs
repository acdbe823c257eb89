//! Support shared by the model tests: [`F64Device`], a `Device` whose buffers are f64 and
//! whose ops are the crate's f64 reference (`satcolor::reference`), so that the model code
//! that runs on cpu / emu / cuda can be run in double precision.

use satcolor::device::Device;
use satcolor::ops::{
    Act, AdamParams, ConcatShape, Conv2dShape, ConvTranspose2dShape, LinearShape, Pool2dShape,
    SgdParams,
};
use satcolor::Result;
use std::cell::Cell;

/// The f64 references of every op family, under one name.
mod r {
    pub use satcolor::ops::{
        activation::reference::*, concat::reference::*, conv2d::reference::*,
        conv_transpose2d::reference::*, convex_skip::reference::*, elementwise::reference::*,
        linear::reference::*, loss::reference::*, max_pool2d::reference::*, optim::reference::*,
        reduce::reference::*,
    };
}

/// A device computing every op in f64 with the reference implementation.
#[derive(Default)]
pub struct F64Device {
    allocs: Cell<u64>,
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn put(dst: &mut Vec<f64>, src: Vec<f64>) -> Result<()> {
    assert_eq!(dst.len(), src.len(), "output length");
    *dst = src;
    Ok(())
}

impl Device for F64Device {
    type Graph = std::convert::Infallible;
    type Buf = Vec<f64>;
    fn name(&self) -> String {
        "f64 reference".into()
    }
    fn alloc_zeros(&self, len: usize) -> Result<Vec<f64>> {
        self.allocs.set(self.allocs.get() + 1);
        Ok(vec![0.0; len])
    }
    fn upload(&self, host: &[f32]) -> Result<Vec<f64>> {
        self.allocs.set(self.allocs.get() + 1);
        Ok(f64s(host))
    }
    fn download(&self, buf: &Vec<f64>) -> Result<Vec<f32>> {
        Ok(buf.iter().map(|&x| x as f32).collect())
    }
    fn write(&self, buf: &mut Vec<f64>, host: &[f32]) -> Result<()> {
        put(buf, f64s(host))
    }
    fn len(&self, buf: &Vec<f64>) -> usize {
        buf.len()
    }
    fn alloc_count(&self) -> u64 {
        self.allocs.get()
    }
    fn conv2d_forward(
        &self,
        s: &Conv2dShape,
        x: &Vec<f64>,
        w: &Vec<f64>,
        b: Option<&Vec<f64>>,
        act: Act,
        y: &mut Vec<f64>,
    ) -> Result<()> {
        put(y, r::conv2d_forward(s, x, w, b.map(|b| b.as_slice()), act)?)
    }
    fn conv2d_backward_input(
        &self,
        s: &Conv2dShape,
        w: &Vec<f64>,
        dy: &Vec<f64>,
        dx: &mut Vec<f64>,
    ) -> Result<()> {
        put(dx, r::conv2d_backward_input(s, w, dy)?)
    }
    fn conv2d_backward_weight(
        &self,
        s: &Conv2dShape,
        x: &Vec<f64>,
        dy: &Vec<f64>,
        dw: &mut Vec<f64>,
        db: Option<&mut Vec<f64>>,
    ) -> Result<()> {
        let (w, b) = r::conv2d_backward_weight(s, x, dy)?;
        if let Some(db) = db {
            put(db, b)?;
        }
        put(dw, w)
    }
    fn conv_transpose2d_forward(
        &self,
        s: &ConvTranspose2dShape,
        x: &Vec<f64>,
        w: &Vec<f64>,
        b: Option<&Vec<f64>>,
        act: Act,
        y: &mut Vec<f64>,
    ) -> Result<()> {
        put(
            y,
            r::conv_transpose2d_forward(s, x, w, b.map(|b| b.as_slice()), act)?,
        )
    }
    fn conv_transpose2d_backward_input(
        &self,
        s: &ConvTranspose2dShape,
        w: &Vec<f64>,
        dy: &Vec<f64>,
        dx: &mut Vec<f64>,
    ) -> Result<()> {
        put(dx, r::conv_transpose2d_backward_input(s, w, dy)?)
    }
    fn conv_transpose2d_backward_weight(
        &self,
        s: &ConvTranspose2dShape,
        x: &Vec<f64>,
        dy: &Vec<f64>,
        dw: &mut Vec<f64>,
        db: Option<&mut Vec<f64>>,
    ) -> Result<()> {
        let (w, b) = r::conv_transpose2d_backward_weight(s, x, dy)?;
        if let Some(db) = db {
            put(db, b)?;
        }
        put(dw, w)
    }
    fn max_pool2d_forward(&self, s: &Pool2dShape, x: &Vec<f64>, y: &mut Vec<f64>) -> Result<()> {
        put(y, r::max_pool2d_forward(s, x)?)
    }
    fn max_pool2d_backward(
        &self,
        s: &Pool2dShape,
        x: &Vec<f64>,
        dy: &Vec<f64>,
        act: Act,
        dx: &mut Vec<f64>,
    ) -> Result<()> {
        put(dx, r::max_pool2d_backward(s, x, dy, act)?)
    }
    fn max_pool2d_backward_add(
        &self,
        s: &Pool2dShape,
        x: &Vec<f64>,
        dy: &Vec<f64>,
        act: Act,
        dx: &mut Vec<f64>,
    ) -> Result<()> {
        let v = r::max_pool2d_backward_add(s, x, dy, act, dx)?;
        put(dx, v)
    }
    fn concat_channels(
        &self,
        s: &ConcatShape,
        a: &Vec<f64>,
        b: &Vec<f64>,
        y: &mut Vec<f64>,
    ) -> Result<()> {
        put(y, r::concat_channels(s, a, b)?)
    }
    fn split_channels(
        &self,
        s: &ConcatShape,
        dy: &Vec<f64>,
        da: &mut Vec<f64>,
        db: &mut Vec<f64>,
    ) -> Result<()> {
        let (a, b) = r::split_channels(s, dy)?;
        put(da, a)?;
        put(db, b)
    }
    fn act_backward(&self, act: Act, y: &Vec<f64>, dy: &mut Vec<f64>) -> Result<()> {
        let v = r::act_backward(act, y, dy)?;
        put(dy, v)
    }
    fn convex_skip_forward(
        &self,
        theta: &Vec<f64>,
        a: &Vec<f64>,
        b: &Vec<f64>,
        u: &mut Vec<f64>,
    ) -> Result<()> {
        put(u, r::convex_skip_forward(theta[0], a, b)?)
    }
    fn convex_skip_backward(
        &self,
        theta: &Vec<f64>,
        a: &Vec<f64>,
        b: &Vec<f64>,
        du: &Vec<f64>,
        da: &mut Vec<f64>,
        db: &mut Vec<f64>,
        dtheta: &mut Vec<f64>,
    ) -> Result<()> {
        let (ga, gb, gt) = r::convex_skip_backward(theta[0], a, b, du)?;
        put(da, ga)?;
        put(db, gb)?;
        put(dtheta, vec![gt])
    }
    fn linear_forward(
        &self,
        s: &LinearShape,
        x: &Vec<f64>,
        w: &Vec<f64>,
        b: &Vec<f64>,
        y: &mut Vec<f64>,
    ) -> Result<()> {
        put(y, r::linear_forward(s, x, w, b)?)
    }
    fn linear_backward(
        &self,
        s: &LinearShape,
        x: &Vec<f64>,
        w: &Vec<f64>,
        dy: &Vec<f64>,
        dx: Option<&mut Vec<f64>>,
        dw: &mut Vec<f64>,
        db: &mut Vec<f64>,
    ) -> Result<()> {
        let (gx, gw, gb) = r::linear_backward(s, x, w, dy)?;
        if let Some(dx) = dx {
            put(dx, gx)?;
        }
        put(dw, gw)?;
        put(db, gb)
    }
    fn bce_with_logits(
        &self,
        z: &Vec<f64>,
        target: f32,
        first: usize,
        scale: f32,
        loss: &mut Vec<f64>,
        dz: &mut Vec<f64>,
    ) -> Result<()> {
        let (l, g) = r::bce_with_logits(z, target as f64, first, scale as f64, loss[0])?;
        loss[0] = l;
        put(dz, g)
    }
    fn mse(
        &self,
        a: &Vec<f64>,
        b: &Vec<f64>,
        scale: f32,
        loss: &mut Vec<f64>,
        da: &mut Vec<f64>,
    ) -> Result<()> {
        let (l, g) = r::mse(a, b, scale as f64, loss[0])?;
        loss[0] = l;
        put(da, g)
    }
    fn l2_penalty(
        &self,
        w: &Vec<f64>,
        scale: f32,
        loss: &mut Vec<f64>,
        dw: &mut Vec<f64>,
    ) -> Result<()> {
        let (l, g) = r::l2_penalty(w, scale as f64, loss[0], dw)?;
        loss[0] = l;
        put(dw, g)
    }
    fn add_assign(&self, dst: &mut Vec<f64>, src: &Vec<f64>) -> Result<()> {
        let v = r::add_assign(dst, src)?;
        put(dst, v)
    }
    fn add_scaled(&self, dst: &mut Vec<f64>, src: &Vec<f64>, alpha: &Vec<f64>) -> Result<()> {
        let v = r::add_scaled(dst, src, alpha[0])?;
        put(dst, v)
    }
    fn sum(&self, x: &Vec<f64>, out: &mut Vec<f64>) -> Result<()> {
        put(out, vec![r::sum(x)])
    }
    fn sum_squares(&self, x: &Vec<f64>, out: &mut Vec<f64>) -> Result<()> {
        let total = r::sum_squares(x, out[0]);
        put(out, vec![total])
    }
    fn scale(&self, x: &mut Vec<f64>, factor: f32) -> Result<()> {
        let v = r::scale(x, factor as f64);
        put(x, v)
    }
    fn sgd_step(
        &self,
        hp: &SgdParams,
        p: &mut Vec<f64>,
        g: &Vec<f64>,
        mom: &mut Vec<f64>,
    ) -> Result<()> {
        let (np, nm) = r::sgd_step(hp, p, g, mom)?;
        put(p, np)?;
        put(mom, nm)
    }
    fn adam_step(
        &self,
        hp: &AdamParams,
        bias: &Vec<f64>,
        p: &mut Vec<f64>,
        g: &Vec<f64>,
        m: &mut Vec<f64>,
        v: &mut Vec<f64>,
    ) -> Result<()> {
        // The step's scalars as every device gets them; the update in f64.
        let (step, bc2_sqrt) = (bias[0], bias[1]);
        let (b1, b2) = (f64::from(hp.beta1), f64::from(hp.beta2));
        let (eps, wd) = (f64::from(hp.eps), f64::from(hp.weight_decay));
        for i in 0..p.len() {
            let g = g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            p[i] -= step * m[i] / (v[i].sqrt() / bc2_sqrt + eps);
        }
        Ok(())
    }
}
