use super::*;
use crate::nsf::Nsf;
use crate::theory::{ChordLabel, Key};
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChordEvent { pub bar: u32, pub beat: u32, pub chord: ChordLabel, pub hold_beats: u32 }
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarmonyDecoded { pub key: Option<Key>, pub chords: Vec<ChordEvent> }
pub struct HarmonyTokenizer { vocab: Vocabulary }
impl Default for HarmonyTokenizer { fn default() -> Self { Self::new() } }
impl HarmonyTokenizer {
    pub fn new() -> Self { HarmonyTokenizer { vocab: Vocabulary::for_expert(ExpertKind::Harmony) } }
    pub fn vocabulary(&self) -> &Vocabulary { &self.vocab }
    pub fn encode(&self, _nsf: &Nsf) -> EncodedSequence { todo!("lead is writing this") }
    pub fn decode(&self, _ids: &[u32]) -> Result<HarmonyDecoded, DecodeError> { todo!("lead is writing this") }
}
