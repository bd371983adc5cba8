//! Seeded weight initialisation (PyTorch's schemes), independent of candle's
//! device RNG so the same seed gives the same model everywhere.

use candle_core::{Device, Result, Tensor, Var};

use crate::corpus::SplitMix64;

/// Uniform(−bound, bound) of the given shape.
pub fn uniform(rng: &mut SplitMix64, shape: &[usize], bound: f64) -> Result<Var> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| ((rng.unit() * 2.0 - 1.0) * bound) as f32)
        .collect();
    Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?)
}

/// Standard normal (Box–Muller) scaled by `std`.
pub fn normal(rng: &mut SplitMix64, shape: &[usize], std: f64) -> Result<Var> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| {
            let u1 = rng.unit().max(1e-12);
            let u2 = rng.unit();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
        })
        .collect();
    Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?)
}

/// An inverted-dropout mask (entries 0 or 1/(1−p)) of the given shape.
pub fn dropout_mask(rng: &mut SplitMix64, shape: &[usize], p: f64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let keep = (1.0 / (1.0 - p)) as f32;
    let data: Vec<f32> = (0..n)
        .map(|_| if rng.unit() < p { 0.0 } else { keep })
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu)
}
