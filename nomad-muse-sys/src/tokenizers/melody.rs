use super::*;
use crate::nsf::Nsf;
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MelodyNote { pub bar: u32, pub beat: u32, pub substep: u32, pub pitch: u8, pub velocity_bin: u8, pub duration_bin: u8 }
pub struct MelodyTokenizer { vocab: Vocabulary }
impl Default for MelodyTokenizer { fn default() -> Self { Self::new() } }
impl MelodyTokenizer {
    pub fn new() -> Self { MelodyTokenizer { vocab: Vocabulary::for_expert(ExpertKind::Melody) } }
    pub fn vocabulary(&self) -> &Vocabulary { &self.vocab }
    pub fn encode(&self, _nsf: &Nsf) -> EncodedSequence { todo!("lead is writing this") }
    pub fn decode(&self, _ids: &[u32]) -> Result<Vec<MelodyNote>, DecodeError> { todo!("lead is writing this") }
}
