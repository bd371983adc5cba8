use super::*;
use crate::nsf::Nsf;
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DrumHit { pub bar: u32, pub beat: u32, pub substep: u32, pub pitch: u8, pub velocity_bin: u8, pub in_fill: bool }
pub struct DrumsTokenizer { vocab: Vocabulary }
impl Default for DrumsTokenizer { fn default() -> Self { Self::new() } }
impl DrumsTokenizer {
    pub fn new() -> Self { DrumsTokenizer { vocab: Vocabulary::for_expert(ExpertKind::Drums) } }
    pub fn vocabulary(&self) -> &Vocabulary { &self.vocab }
    pub fn encode(&self, _nsf: &Nsf) -> EncodedSequence { todo!("lead is writing this") }
    pub fn decode(&self, _ids: &[u32]) -> Result<Vec<DrumHit>, DecodeError> { todo!("lead is writing this") }
    pub fn groove_labels(&self, _ids: &[u32]) -> Vec<u8> { todo!("lead is writing this") }
}
