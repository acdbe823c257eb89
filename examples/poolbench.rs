use satcolor::ops::{max_pool2d::cpu::*, Act, Pool2dShape};
use std::time::Instant;
fn main() {
    for (n, c, h) in [(32usize, 16usize, 64usize), (32, 32, 32), (16, 16, 64)] {
        let s = Pool2dShape { n, c, h, w: h };
        let x: Vec<f32> = (0..s.x_len())
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let dy = vec![1.0f32; s.y_len()];
        let mut dx = vec![0.0f32; s.x_len()];
        let mut y = vec![0.0f32; s.y_len()];
        let t = Instant::now();
        for _ in 0..20 {
            max_pool2d_backward(&s, &x, &dy, Act::LeakyRelu(0.2), &mut dx).unwrap();
        }
        let b = t.elapsed().as_secs_f64() / 20.0;
        let t = Instant::now();
        for _ in 0..20 {
            max_pool2d_forward(&s, &x, &mut y).unwrap();
        }
        let f = t.elapsed().as_secs_f64() / 20.0;
        let t = Instant::now();
        for _ in 0..20 {
            dx.copy_from_slice(&x);
        }
        let cp = t.elapsed().as_secs_f64() / 20.0;
        println!(
            "{n}x{c}x{h}: backward {:.2} ms ({:.1} GB/s), forward {:.2} ms, copy {:.2} ms",
            b * 1e3,
            (s.x_len() * 8 + s.y_len() * 4) as f64 / b / 1e9,
            f * 1e3,
            cp * 1e3
        );
    }
}
