//! The step trait every generator drives: one token in, next-token logits
//! out, with a state that can be saved and restored. The tract session
//! implements it here; the training crate implements it for the candle model
//! and the random-token baseline, so the band judged by the report card is
//! the band a host runs.

use super::MuseError;
use crate::tokenizers::ExpertKind;

pub trait StepModel {
    /// The expert this model plays (its vocabulary).
    fn expert(&self) -> ExpertKind;
    /// Back to the zero state.
    fn reset(&mut self);
    /// Feeds `token` with its (chord, key) conditioning ids; the next-token
    /// logits are then in [`StepModel::logits`].
    fn step(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError>;
    /// [`StepModel::step`] when only the logits `wanted` marks will be
    /// read (the others may be left unspecified): the band's sampler reads
    /// only what the grammar allows.
    fn step_for(
        &mut self,
        token: u32,
        chord: u32,
        key: u32,
        wanted: &[bool],
    ) -> Result<(), MuseError> {
        let _ = wanted;
        self.step(token, chord, key)
    }
    /// Logits after the last step (one per vocabulary entry).
    fn logits(&self) -> &[f32];
    /// Floats [`StepModel::save_state`] writes.
    fn state_len(&self) -> usize;
    /// Copies the recurrent state into `out` (`state_len` floats).
    fn save_state(&self, out: &mut [f32]);
    /// Restores a state saved by [`StepModel::save_state`].
    fn load_state(&mut self, state: &[f32]);
}

/// Forwards every method to the model behind a pointer.
macro_rules! forward_step_model {
    ($($pointer:ty),*) => {$(
        impl<T: StepModel + ?Sized> StepModel for $pointer {
            fn expert(&self) -> ExpertKind {
                (**self).expert()
            }
            fn reset(&mut self) {
                (**self).reset()
            }
            fn step(&mut self, token: u32, chord: u32, key: u32) -> Result<(), MuseError> {
                (**self).step(token, chord, key)
            }
            fn step_for(
                &mut self,
                token: u32,
                chord: u32,
                key: u32,
                wanted: &[bool],
            ) -> Result<(), MuseError> {
                (**self).step_for(token, chord, key, wanted)
            }
            fn logits(&self) -> &[f32] {
                (**self).logits()
            }
            fn state_len(&self) -> usize {
                (**self).state_len()
            }
            fn save_state(&self, out: &mut [f32]) {
                (**self).save_state(out)
            }
            fn load_state(&mut self, state: &[f32]) {
                (**self).load_state(state)
            }
        }
    )*};
}

forward_step_model!(&mut T, Box<T>);
