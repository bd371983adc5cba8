//! Temperature / top-k / top-p sampling over the tokens a grammar allows,
//! without allocating (the caller owns the scratch buffer).

/// xorshift64*: the caller-owned `u64` RNG state of the C ABI.
pub struct XorShiftRng<'a>(pub &'a mut u64);

impl XorShiftRng<'_> {
    pub fn next_u64(&mut self) -> u64 {
        if *self.0 == 0 {
            *self.0 = 0x9e37_79b9_7f4a_7c15;
        }
        let mut x = *self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingOptions {
    /// ≤ 0 means greedy.
    pub temperature: f32,
    /// 0 = no top-k cut.
    pub top_k: u32,
    /// ≥ 1 = no nucleus cut.
    pub top_p: f32,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        SamplingOptions {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        }
    }
}

impl SamplingOptions {
    /// Temperature and top-p must be numbers (NaN or infinity would turn
    /// every probability into NaN).
    pub fn validate(&self) -> Result<(), super::MuseError> {
        if self.temperature.is_finite() && self.top_p.is_finite() {
            Ok(())
        } else {
            Err(super::MuseError::InvalidArgument(
                "temperature and top_p must be finite".into(),
            ))
        }
    }
}

/// Samples a token id among those with `allowed[id]`; `None` if none is.
/// `scratch` is reused between calls (capacity = vocabulary size).
pub fn sample_masked(
    logits: &[f32],
    allowed: &[bool],
    opts: &SamplingOptions,
    rng: &mut XorShiftRng<'_>,
    scratch: &mut Vec<(f32, u32)>,
) -> Option<u32> {
    scratch.clear();
    let mut max = f32::NEG_INFINITY;
    for (i, (l, ok)) in logits.iter().zip(allowed).enumerate() {
        if *ok && l.is_finite() {
            scratch.push((*l, i as u32));
            max = max.max(*l);
        }
    }
    if scratch.is_empty() {
        return None;
    }
    if opts.temperature <= 0.0 || !opts.temperature.is_finite() {
        return scratch
            .iter()
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|x| x.1);
    }
    for entry in scratch.iter_mut() {
        entry.0 = ((entry.0 - max) / opts.temperature).exp();
    }
    let needs_sort = (opts.top_k > 0 && (opts.top_k as usize) < scratch.len()) || opts.top_p < 1.0;
    if needs_sort {
        scratch.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        if opts.top_k > 0 {
            scratch.truncate(opts.top_k as usize);
        }
        if opts.top_p < 1.0 {
            let total: f32 = scratch.iter().map(|x| x.0).sum();
            let mut acc = 0.0;
            let mut keep = scratch.len();
            for (i, (p, _)) in scratch.iter().enumerate() {
                acc += p / total;
                if acc >= opts.top_p.max(0.0) {
                    keep = i + 1;
                    break;
                }
            }
            scratch.truncate(keep.max(1));
        }
    }
    let total: f32 = scratch.iter().map(|x| x.0).sum();
    let mut target = rng.unit() * total;
    for (p, id) in scratch.iter() {
        if target < *p {
            return Some(*id);
        }
        target -= p;
    }
    scratch.last().map(|x| x.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_are_never_sampled_and_greedy_is_argmax() {
        let logits = [5.0, 1.0, 4.0, 3.0];
        let allowed = [false, true, true, true];
        let mut state = 42u64;
        let mut scratch = Vec::new();
        for _ in 0..500 {
            let t = sample_masked(
                &logits,
                &allowed,
                &SamplingOptions::default(),
                &mut XorShiftRng(&mut state),
                &mut scratch,
            );
            assert!(matches!(t, Some(1..=3)));
        }
        let greedy = SamplingOptions {
            temperature: 0.0,
            ..Default::default()
        };
        assert_eq!(
            sample_masked(
                &logits,
                &allowed,
                &greedy,
                &mut XorShiftRng(&mut state),
                &mut scratch
            ),
            Some(2)
        );
        assert_eq!(
            sample_masked(
                &logits,
                &[false; 4],
                &greedy,
                &mut XorShiftRng(&mut state),
                &mut scratch
            ),
            None
        );
    }

    #[test]
    fn top_k_and_top_p_cut_the_tail() {
        let logits = [3.0, 2.9, -5.0, -6.0];
        let allowed = [true; 4];
        let mut state = 7u64;
        let mut scratch = Vec::new();
        let k1 = SamplingOptions {
            temperature: 1.0,
            top_k: 1,
            top_p: 1.0,
        };
        let p = SamplingOptions {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.9,
        };
        for _ in 0..300 {
            assert_eq!(
                sample_masked(
                    &logits,
                    &allowed,
                    &k1,
                    &mut XorShiftRng(&mut state),
                    &mut scratch
                ),
                Some(0)
            );
            assert!(matches!(
                sample_masked(
                    &logits,
                    &allowed,
                    &p,
                    &mut XorShiftRng(&mut state),
                    &mut scratch
                ),
                Some(0 | 1)
            ));
        }
    }

    #[test]
    fn same_seed_same_samples() {
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let allowed = vec![true; 50];
        let run = |seed: u64| -> Vec<u32> {
            let mut s = seed;
            let mut scratch = Vec::new();
            (0..20)
                .map(|_| {
                    sample_masked(
                        &logits,
                        &allowed,
                        &SamplingOptions::default(),
                        &mut XorShiftRng(&mut s),
                        &mut scratch,
                    )
                    .unwrap()
                })
                .collect()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }
}
