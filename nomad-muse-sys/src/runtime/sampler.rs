//! Temperature / top-k / top-p sampling over the tokens a grammar allows,
//! without allocating. [`Sampler`] is the real-time path (vectorised
//! softmax, top-k / top-p by selection, never a sort of the vocabulary);
//! [`sample_masked`] is the plain reference it is tested against, draw for
//! draw on the same RNG stream.

use super::fused::kernels::{masked_softmax, Isa};

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

/// The sampler's buffers, sized for one vocabulary when made.
#[derive(Debug, Clone)]
pub struct Sampler {
    isa: Isa,
    /// Softmax weights per id (0 where not allowed).
    probs: Vec<f32>,
    /// (weight, id) of the candidates when top-k / top-p cut.
    top: Vec<(f32, u32)>,
    reference: Vec<(f32, u32)>,
}

/// Candidates looked at first when a nucleus is searched (doubled until
/// the nucleus fits).
const FIRST_NUCLEUS: usize = 16;

/// Largest weight first; equal weights by id.
fn by_weight(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

impl Sampler {
    pub fn new(vocab_size: usize) -> Self {
        Sampler {
            isa: Isa::detect(),
            probs: vec![0.0; vocab_size],
            top: Vec::with_capacity(vocab_size),
            reference: Vec::with_capacity(vocab_size),
        }
    }

    /// Samples a token id among those with `allowed[id]`; `None` if none is.
    /// Same distribution as [`sample_masked`], one RNG draw per sample.
    pub fn sample(
        &mut self,
        logits: &[f32],
        allowed: &[bool],
        opts: &SamplingOptions,
        rng: &mut XorShiftRng<'_>,
    ) -> Option<u32> {
        let n = logits.len().min(allowed.len());
        let (logits, allowed) = (&logits[..n], &allowed[..n]);
        let mut max = f32::NEG_INFINITY;
        let (mut best, mut odd, mut count) = (None, false, 0usize);
        for (i, (l, ok)) in logits.iter().zip(allowed).enumerate() {
            if *ok {
                count += 1;
                odd |= !l.is_finite();
                if *l >= max {
                    max = *l;
                    best = Some(i as u32);
                }
            }
        }
        if odd || n > self.probs.len() {
            // Infinite or NaN logits (or a larger vocabulary): the reference.
            return sample_masked(logits, allowed, opts, rng, &mut self.reference);
        }
        if opts.temperature <= 0.0 || !opts.temperature.is_finite() {
            return best;
        }
        best?;
        let probs = &mut self.probs[..n];
        let total = masked_softmax(
            self.isa,
            logits,
            allowed,
            max,
            1.0 / opts.temperature,
            probs,
        );
        let cut_k = opts.top_k > 0 && (opts.top_k as usize) < count;
        if !cut_k && opts.top_p >= 1.0 {
            return Some(walk(probs.iter().copied().zip(0..), rng.unit() * total));
        }
        self.top.clear();
        for (i, (p, ok)) in probs.iter().zip(allowed).enumerate() {
            if *ok {
                self.top.push((*p, i as u32));
            }
        }
        let top = &mut self.top;
        if opts.top_k > 0 && (opts.top_k as usize) < top.len() {
            top.select_nth_unstable_by(opts.top_k as usize - 1, by_weight);
            top.truncate(opts.top_k as usize);
        }
        if opts.top_p < 1.0 {
            nucleus(top, opts.top_p.max(0.0));
        } else {
            top.sort_unstable_by(by_weight);
        }
        let total: f32 = top.iter().map(|x| x.0).sum();
        Some(walk(top.iter().copied(), rng.unit() * total))
    }
}

/// The id where `target` falls in the running sum of weights (the last
/// candidate if rounding leaves it beyond the total).
fn walk(candidates: impl Iterator<Item = (f32, u32)>, mut target: f32) -> u32 {
    let mut last = 0;
    for (p, id) in candidates {
        if p > 0.0 {
            last = id;
        }
        if target < p {
            return id;
        }
        target -= p;
    }
    last
}

/// Keeps the smallest heaviest-first prefix of `top` holding `top_p` of its
/// weight, sorted heaviest first. Only that prefix is ever sorted: the
/// heaviest `m` are selected (m = 16, 32, … until the prefix fits).
fn nucleus(top: &mut Vec<(f32, u32)>, top_p: f32) {
    let total: f32 = top.iter().map(|x| x.0).sum();
    let mut m = FIRST_NUCLEUS.min(top.len());
    loop {
        if m < top.len() {
            top.select_nth_unstable_by(m - 1, by_weight);
        }
        top[..m].sort_unstable_by(by_weight);
        let mut acc = 0.0;
        for i in 0..m {
            acc += top[i].0 / total;
            if acc >= top_p {
                top.truncate(i + 1);
                return;
            }
        }
        if m == top.len() {
            return;
        }
        m = (2 * m).min(top.len());
    }
}

/// Samples a token id among those with `allowed[id]`; `None` if none is.
/// The plain reference of [`Sampler::sample`] (it sorts every candidate).
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
        scratch.sort_unstable_by(by_weight);
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

    /// The real-time sampler against the reference, draw for draw on one
    /// RNG stream, over masks, temperatures and top-k / top-p cuts.
    #[test]
    fn the_sampler_draws_what_the_reference_draws() {
        let n = 300;
        let mut sampler = Sampler::new(n);
        let mut scratch = Vec::new();
        let (mut same, mut draws) = (0usize, 0usize);
        let mut seed = 0x1234_5678u64;
        for case in 0..400u32 {
            let logits: Vec<f32> = (0..n)
                .map(|i| ((i as u32 * 7919 + case * 104_729) % 1000) as f32 / 97.0 - 5.0)
                .collect();
            let allowed: Vec<bool> = (0..n)
                .map(|i| (i as u32 + case).is_multiple_of(case % 5 + 1))
                .collect();
            let opts = SamplingOptions {
                temperature: [1.0, 0.7, 1.5, 0.0][case as usize % 4],
                top_k: [0, 1, 5, 40, 1000][case as usize % 5],
                top_p: [1.0, 0.9, 0.5, 0.0][(case / 5) as usize % 4],
            };
            for _ in 0..10 {
                let (mut a, mut b) = (seed, seed);
                let fast = sampler.sample(&logits, &allowed, &opts, &mut XorShiftRng(&mut a));
                let reference = sample_masked(
                    &logits,
                    &allowed,
                    &opts,
                    &mut XorShiftRng(&mut b),
                    &mut scratch,
                );
                assert_eq!(a, b, "one draw each");
                assert!(
                    fast.is_some_and(|t| allowed[t as usize]),
                    "{case}: {fast:?}"
                );
                same += usize::from(fast == reference);
                draws += 1;
                seed = a;
            }
        }
        // The two exps differ in the last bits: a draw right on a boundary
        // may fall either side, nothing more.
        assert!(same * 1000 >= draws * 998, "{same} of {draws} draws agree");
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
