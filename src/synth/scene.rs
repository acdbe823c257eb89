//! One procedural scene: terrain and fields, water, roads, buildings with shadows, trees.
//!
//! Everything is sized in meters and converted with the scene's ground sample distance, and
//! lit by one sun: roofs and crowns are brighter on the sun side, shadows fall the other way.

use super::canvas::{Canvas, Cover, Rect};
use super::noise::Noise;
use super::paths::{nearest_field, Polyline};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::f32::consts::{PI, TAU};

/// Lighting and scale shared by every object of a scene.
struct Sun {
    /// Pixels per meter.
    ppm: f32,
    /// Unit vector (image x, y) along which shadows fall.
    dir: (f32, f32),
    /// Shadow length in pixels per meter of height.
    shadow_per_m: f32,
    /// Unit vector toward the sun (x, y in image axes, z up).
    light: [f32; 3],
}

impl Sun {
    /// Brightness of a surface with unit normal `n`, 1 for flat ground.
    fn shade(&self, n: [f32; 3]) -> f32 {
        let d = (n[0] * self.light[0] + n[1] * self.light[1] + n[2] * self.light[2]).max(0.0);
        0.35 + 0.65 * d / self.light[2]
    }

    /// The shadow vector in pixels of an object `height` meters tall.
    fn shadow(&self, height: f32) -> (f32, f32) {
        let l = height * self.shadow_per_m;
        (self.dir.0 * l, self.dir.1 * l)
    }
}

/// How shadows darken what they fall on (sky light is bluish).
const SHADOW: [f32; 3] = [0.36, 0.40, 0.50];

/// A road's look.
#[derive(Clone, Copy, PartialEq)]
enum RoadKind {
    /// Wide asphalt, yellow center line, white edge lines.
    Main,
    /// Asphalt street with a dashed white center line, sidewalks in town.
    Street,
    /// Narrow unpaved track.
    Dirt,
}

struct Road {
    line: Polyline,
    kind: RoadKind,
    /// Half width of the carriageway in pixels.
    half: f32,
    /// Sidewalk width in pixels (0 for none).
    sidewalk: f32,
}

/// A roof material.
#[derive(Clone, Copy, PartialEq)]
enum Roof {
    RedTile,
    Concrete,
    Dark,
    BlueMetal,
    GreenMetal,
    Brown,
}

/// A roof shape.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Flat,
    Gable,
    Hip,
}

struct Building {
    rect: Rect,
    height: f32,
    roof: Roof,
    shape: Shape,
    /// Brightness variation of this roof.
    tone: f32,
}

struct Tree {
    center: (f32, f32),
    /// Crown radius in pixels.
    radius: f32,
    height: f32,
    color: [f32; 3],
    seed: u32,
}

/// Paints a scene of `size`×`size` pixels from `rng`; returns the canvas and the ground
/// sample distance in tenths of a meter (5 to 10).
pub(crate) fn paint(rng: &mut ChaCha8Rng, size: usize) -> (Canvas, u32) {
    let tenths = rng.random_range(5..=10u32);
    let gsd = tenths as f32 / 10.0;
    let ppm = 1.0 / gsd;
    let urban: f32 = rng.random();
    let azimuth = rng.random_range(0.0..TAU);
    let zenith = rng.random_range(0.45f32..1.0);
    let dir = (azimuth.cos(), azimuth.sin());
    let sun = Sun {
        ppm,
        dir,
        shadow_per_m: zenith.tan() * ppm,
        light: [-dir.0 * zenith.sin(), -dir.1 * zenith.sin(), zenith.cos()],
    };
    let mut canvas = Canvas::new(size);
    terrain(&mut canvas, rng, &sun, urban);
    water(&mut canvas, rng, &sun);
    let roads = roads(rng, size as f32, &sun, urban);
    paint_roads(&mut canvas, rng, &roads, &sun);
    let buildings = place_buildings(&canvas, rng, &roads, &sun, urban);
    for b in &buildings {
        mark(&mut canvas, &b.rect);
    }
    let trees = place_trees(&canvas, rng, &sun, &buildings, urban);
    for b in &buildings {
        cast(&mut canvas, &b.rect, sun.shadow(b.height));
    }
    for t in &trees {
        tree_shadow(&mut canvas, t, &sun);
    }
    let texture = Noise::new(rng.random());
    for b in &buildings {
        roof(&mut canvas, b, &sun, texture);
    }
    for t in &trees {
        crown(&mut canvas, t, &sun);
    }
    finish(&mut canvas, rng);
    (canvas, tenths)
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale(c: [f32; 3], f: f32) -> [f32; 3] {
    [c[0] * f, c[1] * f, c[2] * f]
}

/// A color jittered by up to `amount` (relative) in brightness and per channel.
fn jitter(rng: &mut ChaCha8Rng, c: [f32; 3], amount: f32) -> [f32; 3] {
    let b = 1.0 + rng.random_range(-amount..amount);
    let mut out = [0.0; 3];
    for (o, v) in out.iter_mut().zip(c) {
        *o = v * b * (1.0 + rng.random_range(-amount..amount) * 0.4);
    }
    out
}

/// Grass, dry grass, bare soil and, outside town, cultivated parcels with row texture.
fn terrain(canvas: &mut Canvas, rng: &mut ChaCha8Rng, sun: &Sun, urban: f32) {
    let lush = jitter(rng, [72.0, 102.0, 48.0], 0.08);
    let dry = jitter(rng, [150.0, 142.0, 96.0], 0.08);
    let soil = jitter(rng, [146.0, 116.0, 88.0], 0.08);
    let (n_soil, n_dry, n_farm, n_tex) = (
        Noise::new(rng.random()),
        Noise::new(rng.random()),
        Noise::new(rng.random()),
        Noise::new(rng.random()),
    );
    let farm_threshold = 0.1 + 1.2 * urban;
    let parcel_angle = rng.random_range(0.0..PI);
    let (pu, pv) = (parcel_angle.cos(), parcel_angle.sin());
    let parcel = (
        rng.random_range(40.0f32..90.0),
        rng.random_range(60.0f32..160.0),
    );
    let parcel_seed: u32 = rng.random();
    let crops = [
        [88.0, 124.0, 52.0],
        [128.0, 100.0, 72.0],
        [170.0, 156.0, 100.0],
        [60.0, 96.0, 44.0],
    ];
    let gsd = 1.0 / sun.ppm;
    for y in 0..canvas.size {
        for x in 0..canvas.size {
            let (mx, my) = (x as f32 * gsd, y as f32 * gsd);
            let s = n_soil.fbm(mx, my, 140.0, 4);
            let d = n_dry.fbm(mx, my, 70.0, 3);
            let mut c = mix(lush, dry, smoothstep(-0.2, 0.5, d));
            c = mix(c, soil, smoothstep(-0.25, -0.45, s));
            let f = n_farm.fbm(mx, my, 220.0, 2);
            if f > farm_threshold {
                let (a, b) = (mx * pu + my * pv, -mx * pv + my * pu);
                let (ia, ib) = ((a / parcel.0).floor(), (b / parcel.1).floor());
                let cell = Noise::new(parcel_seed).value(ia * 7.31 + 0.5, ib * 3.17 + 0.5);
                let kind = ((cell + 1.0) * 2.499) as usize;
                if kind < crops.len() {
                    let period = 2.0 + (cell * 50.0).rem_euclid(2.5);
                    let rows = 0.5 + 0.5 * (TAU * b / period).sin();
                    let edge = (a - ia * parcel.0)
                        .min((ia + 1.0) * parcel.0 - a)
                        .min((b - ib * parcel.1).min((ib + 1.0) * parcel.1 - b));
                    let mut field = scale(crops[kind], 0.86 + 0.22 * rows);
                    if edge < 1.5 {
                        field = scale(lush, 0.8);
                    }
                    c = mix(
                        c,
                        field,
                        smoothstep(farm_threshold, farm_threshold + 0.05, f),
                    );
                }
            }
            let tex = 1.0
                + 0.10 * n_tex.fbm(mx, my, 4.0, 3)
                + 0.06 * n_tex.value(x as f32 * 0.9, y as f32 * 0.9);
            canvas.rgb[y * canvas.size + x] = scale(c, tex);
        }
    }
}

/// A lake from a low-frequency field and sometimes a river: smooth dark blue-green water
/// with a muddy shore.
fn water(canvas: &mut Canvas, rng: &mut ChaCha8Rng, sun: &Sun) {
    let lake = rng.random_bool(0.55);
    let threshold = if lake {
        rng.random_range(-0.5f32..-0.2)
    } else {
        -2.0
    };
    let field = Noise::new(rng.random());
    let ripple = Noise::new(rng.random());
    let deep = jitter(rng, [22.0, 48.0, 62.0], 0.15);
    let shallow = mix(deep, [70.0, 96.0, 78.0], rng.random_range(0.3..0.7));
    let shore = [120.0, 110.0, 88.0];
    let n = canvas.size as f32;
    let river = rng.random_bool(0.3).then(|| {
        let side = |rng: &mut ChaCha8Rng| (rng.random_range(0.0..n), rng.random_range(0.0..n));
        let (a, b, c, d) = (side(rng), side(rng), side(rng), side(rng));
        let start = (a.0, -0.1 * n);
        let end = (d.0, 1.1 * n);
        (
            Polyline::bezier([start, b, c, end]),
            rng.random_range(8.0f32..20.0) * sun.ppm,
        )
    });
    let river_field = river.as_ref().map(|(line, half)| {
        nearest_field(canvas, std::slice::from_ref(line), &[half + 3.0 * sun.ppm])
    });
    let gsd = 1.0 / sun.ppm;
    for i in 0..canvas.size * canvas.size {
        let (x, y) = ((i % canvas.size) as f32, (i / canvas.size) as f32);
        let v = field.fbm(x * gsd, y * gsd, 260.0, 4);
        // Depth-like wetness in [0, 1] and a shore band just outside it.
        let mut wet = (threshold - v) / 0.04;
        if let (Some(field), Some((_, half))) = (&river_field, &river) {
            if let Some(near) = field[i] {
                wet = wet.max((half - near.dist) / (2.0 * sun.ppm));
            }
        }
        if wet > -1.0 {
            canvas.blend(i, shore, (wet + 1.0).clamp(0.0, 1.0) * 0.7);
        }
        if wet > 0.0 {
            let depth = smoothstep(0.0, 6.0, wet);
            let r = 1.0 + 0.03 * ripple.value(x * 0.35, y * 0.12);
            canvas.blend(i, scale(mix(shallow, deep, depth), r), wet.min(1.0));
            if wet >= 0.5 {
                canvas.cover[i] = Cover::Water;
            }
        }
    }
}

/// The road network: a grid in town, curves in suburbs, a few lines and tracks outside.
fn roads(rng: &mut ChaCha8Rng, n: f32, sun: &Sun, urban: f32) -> Vec<Road> {
    let ppm = sun.ppm;
    let mut out = Vec::new();
    let street = |rng: &mut ChaCha8Rng, line: Polyline, kind: RoadKind| {
        let (half, sidewalk) = match kind {
            RoadKind::Main => (
                rng.random_range(5.0f32..7.0),
                if urban > 0.5 { 2.5 } else { 0.0 },
            ),
            RoadKind::Street => (
                rng.random_range(3.2f32..4.5),
                if urban > 0.4 {
                    rng.random_range(1.5f32..2.5)
                } else {
                    0.0
                },
            ),
            RoadKind::Dirt => (rng.random_range(1.6f32..2.4), 0.0),
        };
        Road {
            line,
            kind,
            half: half * ppm,
            sidewalk: sidewalk * ppm,
        }
    };
    let point = |rng: &mut ChaCha8Rng| {
        (
            rng.random_range(0.1 * n..0.9 * n),
            rng.random_range(0.1 * n..0.9 * n),
        )
    };
    if urban > 0.55 {
        let angle = rng.random_range(0.0..PI);
        let spacing = rng.random_range(70.0f32..130.0) * ppm;
        let origin = point(rng);
        for (k, a) in [angle, angle + PI / 2.0].into_iter().enumerate() {
            let normal = (-a.sin(), a.cos());
            let count = (1.5 * n / spacing).ceil() as i32;
            for j in -count..=count {
                let off = j as f32 * spacing * if k == 0 { 1.0 } else { 1.3 };
                let p = (origin.0 + normal.0 * off, origin.1 + normal.1 * off);
                let kind = if j == 0 {
                    RoadKind::Main
                } else {
                    RoadKind::Street
                };
                out.push(street(rng, Polyline::line(p, a, n), kind));
            }
        }
    } else {
        let curves = 1 + (urban * 4.0) as usize;
        for _ in 0..curves {
            let (a, b, c, d) = (point(rng), point(rng), point(rng), point(rng));
            let dir = (d.0 - a.0, d.1 - a.1);
            let len = (dir.0 * dir.0 + dir.1 * dir.1).sqrt().max(1.0);
            let far = 1.2 * n / len;
            let start = (a.0 - dir.0 * far, a.1 - dir.1 * far);
            let end = (d.0 + dir.0 * far, d.1 + dir.1 * far);
            out.push(street(
                rng,
                Polyline::bezier([start, b, c, end]),
                RoadKind::Street,
            ));
        }
        if rng.random_bool(0.7) {
            let line = Polyline::line(point(rng), rng.random_range(0.0..PI), n);
            out.push(street(rng, line, RoadKind::Main));
        }
        if urban < 0.35 {
            let (a, b, c, d) = (point(rng), point(rng), point(rng), point(rng));
            out.push(street(rng, Polyline::bezier([a, b, c, d]), RoadKind::Dirt));
        }
    }
    out
}

/// Asphalt with texture, lane markings, sidewalks; unpaved tracks in soil colors.
fn paint_roads(canvas: &mut Canvas, rng: &mut ChaCha8Rng, roads: &[Road], sun: &Sun) {
    let lines: Vec<Polyline> = roads.iter().map(|r| r.line.clone()).collect();
    let reach: Vec<f32> = roads.iter().map(|r| r.half + r.sidewalk + 2.0).collect();
    let field = nearest_field(canvas, &lines, &reach);
    let asphalt = jitter(rng, [88.0, 88.0, 92.0], 0.12);
    let walk = jitter(rng, [178.0, 174.0, 166.0], 0.05);
    let dirt = [156.0, 132.0, 100.0];
    let tex = Noise::new(rng.random());
    let ppm = sun.ppm;
    let mark_alpha = (0.35 * ppm).clamp(0.4, 1.0);
    for (i, near) in field.iter().enumerate() {
        let Some(near) = near else { continue };
        let road = &roads[near.index];
        let d = near.dist;
        let (x, y) = ((i % canvas.size) as f32, (i / canvas.size) as f32);
        let t = 1.0 + 0.07 * tex.fbm(x, y, 3.0, 2);
        if road.kind == RoadKind::Dirt {
            let a = (road.half + 0.5 - d).clamp(0.0, 1.0) * 0.85;
            canvas.blend(i, scale(dirt, t), a);
            continue;
        }
        if road.sidewalk > 0.0 {
            let a = (road.half + road.sidewalk + 0.5 - d).clamp(0.0, 1.0);
            canvas.blend(i, scale(walk, t), a);
        }
        canvas.blend(i, scale(asphalt, t), (road.half + 0.5 - d).clamp(0.0, 1.0));
        let dash = (near.along / ppm).rem_euclid(12.0) < 3.0;
        let (on_line, color) = match road.kind {
            RoadKind::Main => (
                (d - 0.25 * ppm).abs() < 0.5 || (d - (road.half - 0.5 * ppm)).abs() < 0.5,
                if d < road.half * 0.5 {
                    [200.0, 172.0, 70.0]
                } else {
                    [215.0, 215.0, 210.0]
                },
            ),
            _ => (d < 0.5 && dash, [215.0, 215.0, 210.0]),
        };
        if on_line && d < road.half {
            canvas.blend(i, color, mark_alpha);
        }
        if d < road.half + road.sidewalk + 0.5 {
            canvas.cover[i] = Cover::Road;
        }
    }
}

/// Houses along every road and, in town, large flat-roofed blocks.
fn place_buildings(
    canvas: &Canvas,
    rng: &mut ChaCha8Rng,
    roads: &[Road],
    sun: &Sun,
    urban: f32,
) -> Vec<Building> {
    let ppm = sun.ppm;
    let area = (canvas.size as f32 / ppm / 400.0).powi(2);
    let attempts = ((80.0 + 2500.0 * urban * urban) * area) as usize;
    // This scene's taste in roofs.
    let mut weights = [0.0f32; 6];
    for w in &mut weights {
        *w = rng.random_range(0.2f32..1.0);
    }
    let palette = [
        Roof::RedTile,
        Roof::Concrete,
        Roof::Dark,
        Roof::BlueMetal,
        Roof::GreenMetal,
        Roof::Brown,
    ];
    let mut out: Vec<Building> = Vec::new();
    let paved: Vec<&Road> = roads.iter().filter(|r| r.kind != RoadKind::Dirt).collect();
    if paved.is_empty() {
        return out;
    }
    let mut occupied = canvas.cover.clone();
    for _ in 0..attempts {
        let road = paved[rng.random_range(0..paved.len())];
        let (p, t) = road.line.at(rng.random());
        let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let commercial = rng.random::<f32>() < urban * 0.55;
        let (w, d, h, setback) = if commercial {
            (
                rng.random_range(18.0f32..60.0),
                rng.random_range(15.0f32..40.0),
                rng.random_range(8.0f32..30.0),
                rng.random_range(2.0f32..6.0),
            )
        } else {
            (
                rng.random_range(9.0f32..18.0),
                rng.random_range(8.0f32..13.0),
                rng.random_range(4.0f32..8.0),
                rng.random_range(4.0f32..14.0),
            )
        };
        let normal = (-t.1 * side, t.0 * side);
        let off = road.half + road.sidewalk + (setback + d / 2.0) * ppm;
        let skew = rng.random_range(-0.05f32..0.05);
        let u = (
            t.0 * skew.cos() - t.1 * skew.sin(),
            t.0 * skew.sin() + t.1 * skew.cos(),
        );
        let rect = Rect {
            center: (p.0 + normal.0 * off, p.1 + normal.1 * off),
            u,
            half: (w / 2.0 * ppm, d / 2.0 * ppm),
        };
        let roof = if commercial {
            if rng.random_bool(0.75) {
                Roof::Concrete
            } else if rng.random_bool(0.5) {
                Roof::BlueMetal
            } else {
                Roof::GreenMetal
            }
        } else {
            let total: f32 = weights.iter().sum();
            let mut pick = rng.random_range(0.0..total);
            let mut k = 0;
            while pick >= weights[k] && k + 1 < weights.len() {
                pick -= weights[k];
                k += 1;
            }
            palette[k]
        };
        let shape = match roof {
            Roof::Concrete => Shape::Flat,
            Roof::BlueMetal | Roof::GreenMetal if commercial => Shape::Flat,
            _ if rng.random_bool(0.6) => Shape::Gable,
            _ => Shape::Hip,
        };
        let tone = rng.random_range(0.85f32..1.15);
        if !free(&occupied, canvas.size, &rect, 2.0 * ppm) {
            continue;
        }
        stamp(&mut occupied, canvas.size, &rect);
        out.push(Building {
            rect,
            height: h,
            roof,
            shape,
            tone,
        });
    }
    out
}

/// Whether every pixel of `rect` grown by `margin` pixels is ground (or outside the scene),
/// and its center lies inside the scene.
fn free(cover: &[Cover], size: usize, rect: &Rect, margin: f32) -> bool {
    let n = size as f32;
    if !(0.0..n).contains(&rect.center.0) || !(0.0..n).contains(&rect.center.1) {
        return false;
    }
    let grown = Rect {
        half: (rect.half.0 + margin, rect.half.1 + margin),
        ..*rect
    };
    let (lo, hi) = grown.bounds(0.0);
    let (xa, xb) = (
        lo.0.floor().max(0.0) as usize,
        (hi.0.ceil().min(n - 1.0)).max(0.0) as usize,
    );
    let (ya, yb) = (
        lo.1.floor().max(0.0) as usize,
        (hi.1.ceil().min(n - 1.0)).max(0.0) as usize,
    );
    for y in ya..=yb {
        for x in xa..=xb {
            if grown.coverage((x as f32 + 0.5, y as f32 + 0.5)) > 0.0
                && cover[y * size + x] != Cover::Ground
            {
                return false;
            }
        }
    }
    true
}

/// Marks the footprint of `rect` as building in `cover`.
fn stamp(cover: &mut [Cover], size: usize, rect: &Rect) {
    let n = size as f32;
    let (lo, hi) = rect.bounds(1.0);
    let (xa, xb) = (lo.0.max(0.0) as usize, hi.0.clamp(0.0, n) as usize);
    let (ya, yb) = (lo.1.max(0.0) as usize, hi.1.clamp(0.0, n) as usize);
    for y in ya..yb {
        for x in xa..xb {
            if rect.coverage((x as f32 + 0.5, y as f32 + 0.5)) > 0.5 {
                cover[y * size + x] = Cover::Building;
            }
        }
    }
}

/// Marks a building's footprint on the canvas.
fn mark(canvas: &mut Canvas, rect: &Rect) {
    let size = canvas.size;
    stamp(&mut canvas.cover, size, rect);
}

/// Forests where a field says so, scattered trees, yard trees beside houses.
fn place_trees(
    canvas: &Canvas,
    rng: &mut ChaCha8Rng,
    sun: &Sun,
    buildings: &[Building],
    urban: f32,
) -> Vec<Tree> {
    let ppm = sun.ppm;
    let n = canvas.size as f32;
    let forest = Noise::new(rng.random());
    let threshold = 0.05 + 0.5 * urban;
    let mut out = Vec::new();
    let palettes = [
        [52.0, 80.0, 38.0],
        [40.0, 66.0, 42.0],
        [78.0, 98.0, 44.0],
        [34.0, 56.0, 40.0],
    ];
    let scene_palette = rng.random_range(0..palettes.len());
    let try_tree = |rng: &mut ChaCha8Rng, p: (f32, f32), out: &mut Vec<Tree>| {
        let conifer = rng.random_bool(0.3);
        let radius = if conifer {
            rng.random_range(1.5f32..3.0)
        } else {
            rng.random_range(2.0f32..5.5)
        } * ppm;
        let base = if conifer || rng.random_bool(0.5) {
            palettes[if conifer { 3 } else { scene_palette }]
        } else {
            palettes[rng.random_range(0..3)]
        };
        let color = jitter(rng, base, 0.12);
        let height = rng.random_range(6.0f32..16.0);
        let seed = rng.random();
        let (x, y) = (p.0 as usize, p.1 as usize);
        if p.0 < 0.0 || p.1 < 0.0 || x >= canvas.size || y >= canvas.size {
            return;
        }
        if canvas.cover[y * canvas.size + x] != Cover::Ground {
            return;
        }
        for k in 0..4 {
            let a = k as f32 * PI / 2.0;
            let (qx, qy) = (p.0 + a.cos() * radius * 0.7, p.1 + a.sin() * radius * 0.7);
            if qx >= 0.0 && qy >= 0.0 && qx < n && qy < n {
                let c = canvas.cover[qy as usize * canvas.size + qx as usize];
                if c == Cover::Building || c == Cover::Water {
                    return;
                }
            }
        }
        out.push(Tree {
            center: p,
            radius,
            height,
            color,
            seed,
        });
    };
    let gsd = 1.0 / ppm;
    let step = 3.5 * ppm;
    let cells = (n / step).ceil() as usize;
    for cy in 0..cells {
        for cx in 0..cells {
            let p = (
                (cx as f32 + rng.random::<f32>()) * step,
                (cy as f32 + rng.random::<f32>()) * step,
            );
            let f = forest.fbm(p.0 * gsd, p.1 * gsd, 120.0, 3);
            let dense = f > threshold;
            if dense && rng.random_bool(0.8)
                || !dense && rng.random_bool(0.012 * (1.0 - urban * 0.5) as f64)
            {
                try_tree(rng, p, &mut out);
            }
        }
    }
    for b in buildings.iter().filter(|b| b.height < 9.0) {
        for _ in 0..rng.random_range(0..3) {
            let a = rng.random_range(0.0..TAU);
            let r = b.rect.half.0.max(b.rect.half.1) + rng.random_range(3.0f32..8.0) * ppm;
            let p = (b.rect.center.0 + a.cos() * r, b.rect.center.1 + a.sin() * r);
            try_tree(rng, p, &mut out);
        }
    }
    out
}

/// Darkens the shadow that `rect` casts along `v` (pixels), soft over about one pixel.
fn cast(canvas: &mut Canvas, rect: &Rect, v: (f32, f32)) {
    let (lo, hi) = rect.bounds(1.0);
    let lo = (lo.0.min(lo.0 + v.0), lo.1.min(lo.1 + v.1));
    let hi = (hi.0.max(hi.0 + v.0), hi.1.max(hi.1 + v.1));
    let Some((rows, cols)) = canvas.clip(lo, hi) else {
        return;
    };
    for y in rows {
        for x in cols.clone() {
            let p = (x as f32 + 0.5, y as f32 + 0.5);
            let a = if rect.swept_hit(p, v, -0.35) {
                1.0
            } else if rect.swept_hit(p, v, 0.35) {
                0.5
            } else {
                continue;
            };
            canvas.darken(y * canvas.size + x, SHADOW, a);
        }
    }
}

/// The shadow of a crown: its disk swept from the trunk along the sun's shadow direction.
fn tree_shadow(canvas: &mut Canvas, t: &Tree, sun: &Sun) {
    let v = sun.shadow(t.height * 0.8);
    let r = t.radius;
    let lo = (
        t.center.0.min(t.center.0 + v.0) - r,
        t.center.1.min(t.center.1 + v.1) - r,
    );
    let hi = (
        t.center.0.max(t.center.0 + v.0) + r,
        t.center.1.max(t.center.1 + v.1) + r,
    );
    let Some((rows, cols)) = canvas.clip(lo, hi) else {
        return;
    };
    let (c0, c1) = (
        (t.center.0 + v.0 * 0.3, t.center.1 + v.1 * 0.3),
        (t.center.0 + v.0, t.center.1 + v.1),
    );
    let (dx, dy) = (c1.0 - c0.0, c1.1 - c0.1);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for y in rows {
        for x in cols.clone() {
            let p = (x as f32 + 0.5, y as f32 + 0.5);
            let s = (((p.0 - c0.0) * dx + (p.1 - c0.1) * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (p.0 - c0.0 - s * dx, p.1 - c0.1 - s * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let a = (r * 0.9 + 0.5 - d).clamp(0.0, 1.0);
            if a > 0.0 {
                canvas.darken(y * canvas.size + x, SHADOW, a * 0.9);
            }
        }
    }
}

/// Base color of a roof material.
fn roof_color(roof: Roof) -> [f32; 3] {
    match roof {
        Roof::RedTile => [170.0, 78.0, 58.0],
        Roof::Concrete => [182.0, 180.0, 174.0],
        Roof::Dark => [58.0, 58.0, 64.0],
        Roof::BlueMetal => [74.0, 108.0, 158.0],
        Roof::GreenMetal => [72.0, 124.0, 96.0],
        Roof::Brown => [112.0, 88.0, 72.0],
    }
}

/// Paints a roof: shaded faces for pitched roofs, parapet and blotches for flat ones,
/// corrugation for metal, faint courses for tile.
fn roof(canvas: &mut Canvas, b: &Building, sun: &Sun, texture: Noise) {
    let base = scale(roof_color(b.roof), b.tone);
    let (hu, hv) = b.rect.half;
    let (u, v) = (b.rect.u, (-b.rect.u.1, b.rect.u.0));
    let pitch = 0.55f32;
    let (sp, cp) = (pitch.sin(), pitch.cos());
    let Some((rows, cols)) = canvas.clip(b.rect.bounds(1.0).0, b.rect.bounds(1.0).1) else {
        return;
    };
    for y in rows {
        for x in cols.clone() {
            let p = (x as f32 + 0.5, y as f32 + 0.5);
            let cov = b.rect.coverage(p);
            if cov <= 0.0 {
                continue;
            }
            let (a, c) = b.rect.local(p);
            // The face's outward horizontal direction (image axes) for pitched roofs.
            let face = match b.shape {
                Shape::Flat => None,
                Shape::Gable => Some(if c >= 0.0 { v } else { (-v.0, -v.1) }),
                Shape::Hip => Some(if c.abs() >= a.abs() - (hu - hv) {
                    if c >= 0.0 {
                        v
                    } else {
                        (-v.0, -v.1)
                    }
                } else if a >= 0.0 {
                    u
                } else {
                    (-u.0, -u.1)
                }),
            };
            let mut light = match face {
                Some(f) => sun.shade([f.0 * sp, f.1 * sp, cp]),
                None => 1.0,
            };
            let (px, py) = (p.0 / sun.ppm, p.1 / sun.ppm);
            match b.roof {
                Roof::BlueMetal | Roof::GreenMetal => {
                    let along = if b.shape == Shape::Flat { c } else { a };
                    light *= 1.0 + 0.07 * (TAU * along / (0.9 * sun.ppm)).sin();
                }
                Roof::RedTile | Roof::Brown => {
                    light *= 1.0
                        + 0.05 * (TAU * c / (0.8 * sun.ppm)).sin()
                        + 0.05 * texture.value(px * 1.3, py * 1.3);
                }
                Roof::Concrete | Roof::Dark => {
                    light *= 1.0 + 0.06 * texture.fbm(px, py, 4.0, 2);
                }
            }
            if b.shape == Shape::Flat && (hu - a.abs()).min(hv - c.abs()) < 0.7 * sun.ppm {
                light *= 1.12;
            }
            if b.shape != Shape::Flat && c.abs() < 0.6 {
                light *= 1.08;
            }
            canvas.blend(y * canvas.size + x, scale(base, light), cov);
        }
    }
}

/// Paints a crown: a lit dome with a lobed edge and leafy texture.
fn crown(canvas: &mut Canvas, t: &Tree, sun: &Sun) {
    let r = t.radius * 1.15;
    let Some((rows, cols)) = canvas.clip(
        (t.center.0 - r, t.center.1 - r),
        (t.center.0 + r, t.center.1 + r),
    ) else {
        return;
    };
    let lobes = Noise::new(t.seed);
    let leaves = Noise::new(t.seed ^ 0x5bd1_e995);
    for y in rows {
        for x in cols.clone() {
            let (dx, dy) = (x as f32 + 0.5 - t.center.0, y as f32 + 0.5 - t.center.1);
            let angle = dy.atan2(dx);
            let edge = t.radius
                * (1.0 + 0.12 * lobes.value(angle.cos() * 2.0 + 9.0, angle.sin() * 2.0 + 9.0));
            let rho = (dx * dx + dy * dy).sqrt() / edge;
            if rho >= 1.0 + 1.0 / edge {
                continue;
            }
            let a = ((1.0 - rho) * edge + 0.5).clamp(0.0, 1.0);
            let q = rho.min(1.0);
            let z = (1.0 - q * q).max(0.0).sqrt();
            let n = if rho > 1e-6 {
                [dx / (rho * edge) * q, dy / (rho * edge) * q, z]
            } else {
                [0.0, 0.0, 1.0]
            };
            let light = sun.shade(n) * (1.0 + 0.22 * leaves.value(x as f32 * 0.8, y as f32 * 0.8));
            canvas.blend(y * canvas.size + x, scale(t.color, light), a);
        }
    }
}

/// Haze, white balance and sensor noise of the whole image.
fn finish(canvas: &mut Canvas, rng: &mut ChaCha8Rng) {
    let haze = rng.random_range(0.0f32..0.12);
    let haze_color = [170.0, 176.0, 186.0];
    let gain = [
        rng.random_range(0.95f32..1.05),
        rng.random_range(0.95f32..1.05),
        rng.random_range(0.95f32..1.05),
    ];
    let noise = Noise::new(rng.random());
    for i in 0..canvas.rgb.len() {
        let (x, y) = ((i % canvas.size) as f32, (i / canvas.size) as f32);
        let grain = 2.0 * noise.value(x * 1.7 + 0.3, y * 1.7 + 0.7);
        let p = &mut canvas.rgb[i];
        for c in 0..3 {
            p[c] = (p[c] + (haze_color[c] - p[c]) * haze) * gain[c] + grain;
        }
    }
}
