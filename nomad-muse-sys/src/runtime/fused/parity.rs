//! The load-time parity check: a few steps through the fused step and
//! through the reference (tract) from the same state with the same ids;
//! every logit and state value must agree within [`TOLERANCE`].

use super::FusedGru;

/// Largest disagreement accepted, relative to `max(1, |reference|)`.
pub const TOLERANCE: f32 = 1e-4;
/// Steps compared (each from the state the step before left).
pub const STEPS: usize = 8;

/// What one step of the reference gives: `(token, chord, key, hidden in/out,
/// logits out)`.
pub type ReferenceStep<'a> =
    dyn FnMut(u32, u32, u32, &mut [f32], &mut [f32]) -> Result<(), String> + 'a;

/// Largest scaled difference over [`STEPS`] steps on ids drawn from `seed`
/// (tokens below `vocab_size`, chords below `chords`, keys below `keys`).
pub fn max_difference(
    fused: &mut FusedGru,
    reference: &mut ReferenceStep<'_>,
    state_len: usize,
    (chords, keys): (u32, u32),
    seed: u64,
) -> Result<f32, String> {
    let vocab = fused.vocab_size;
    let mut fused_state = vec![0.0; state_len];
    let mut ref_state = vec![0.0; state_len];
    let mut fused_logits = vec![0.0; vocab];
    let mut ref_logits = vec![0.0; vocab];
    let mut rng = seed | 1;
    let mut draw = |n: u32| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % u64::from(n.max(1))) as u32
    };
    let mut worst = 0f32;
    for _ in 0..STEPS {
        let (token, chord, key) = (draw(vocab as u32), draw(chords), draw(keys));
        fused.step(token, chord, key, &mut fused_state, &mut fused_logits)?;
        reference(token, chord, key, &mut ref_state, &mut ref_logits)?;
        let pairs = fused_logits
            .iter()
            .zip(&ref_logits)
            .chain(fused_state.iter().zip(&ref_state));
        for (a, b) in pairs {
            let d = (a - b).abs() / b.abs().max(1.0);
            // NaN anywhere is a disagreement too.
            worst = if d.is_nan() {
                f32::INFINITY
            } else {
                worst.max(d)
            };
        }
    }
    Ok(worst)
}
