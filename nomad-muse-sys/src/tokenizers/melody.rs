//! MuseMelody tokenizer: the melody track's notes on the 16th grid, with the
//! key and chords both in the stream and as per-step conditioning ids.

use serde::{Deserialize, Serialize};

use super::{
    bar_count_of, decode_stream, duration_bin, velocity_bin, DecodeError, DecodedEvent,
    EncodedSequence, EventDecoder, ExpertKind, Token, Vocabulary, MAX_BEATS, PHRASE_BARS, SUBSTEPS,
};
use crate::nsf::{Nsf, NsfTrack, TrackType};

/// One decoded melody note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MelodyNote {
    /// Absolute bar (ordinal of its `BAR` token).
    pub bar: u32,
    pub beat: u32,
    pub substep: u32,
    pub pitch: u8,
    pub velocity_bin: u8,
    pub duration_bin: u8,
}

#[derive(Debug, Clone)]
pub struct MelodyTokenizer {
    vocab: Vocabulary,
}

impl Default for MelodyTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

/// The track the melody expert learns from: the most confident melody track.
pub fn melody_track(nsf: &Nsf) -> Option<&NsfTrack> {
    nsf.tracks
        .iter()
        .filter(|t| t.classification.kind == TrackType::Melody && !t.events.is_empty())
        .max_by(|a, b| {
            a.classification
                .confidence
                .total_cmp(&b.classification.confidence)
        })
}

impl MelodyTokenizer {
    pub fn new() -> Self {
        MelodyTokenizer {
            vocab: Vocabulary::for_expert(ExpertKind::Melody),
        }
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// `BOS CONDITION_KEY_k (BAR_n CONDITION_CHORD_c (BEAT_b SUBSTEP_s
    /// (NOTE_p VEL_BIN_v DUR_BIN_d)+)*)* EOS`, plus for every token the chord
    /// sounding at the stream's current grid position and the key.
    pub fn encode(&self, nsf: &Nsf) -> EncodedSequence {
        let key_id = nsf.key.key().dense_index();
        let mut seq = EncodedSequence::default();
        let push = |seq: &mut EncodedSequence, token: Token, step: u32| {
            if let Some(id) = self.vocab.id(token) {
                seq.tokens.push(id);
                seq.chord_cond.push(nsf.chord_at(step).dense_index());
                seq.key_cond.push(key_id);
            }
        };
        push(&mut seq, Token::Bos, 0);
        if let Some(track) = melody_track(nsf) {
            push(&mut seq, Token::ConditionKey(nsf.key.key()), 0);
            let mut notes = track
                .events
                .iter()
                .filter(|e| e.beat < MAX_BEATS)
                .peekable();
            for bar in 0..bar_count_of(nsf) {
                let bar_start = nsf.global.bar_start_step(bar);
                push(&mut seq, Token::Bar(bar % PHRASE_BARS), bar_start);
                push(
                    &mut seq,
                    Token::ConditionChord(nsf.chord_at(bar_start)),
                    bar_start,
                );
                let mut last: Option<(u32, u8)> = None;
                while let Some(e) = notes.next_if(|e| e.bar <= bar) {
                    if e.bar < bar {
                        continue;
                    }
                    let pos = e.beat * SUBSTEPS + e.substep;
                    let step = bar_start + pos;
                    match last {
                        Some((p, pitch)) if p == pos && pitch >= e.pitch => continue,
                        Some((p, _)) if p == pos => {}
                        _ => {
                            push(&mut seq, Token::Beat(e.beat), step);
                            push(&mut seq, Token::Substep(e.substep), step);
                        }
                    }
                    push(&mut seq, Token::Note(e.pitch), step);
                    push(&mut seq, Token::VelBin(velocity_bin(e.velocity)), step);
                    push(
                        &mut seq,
                        Token::DurBin(duration_bin(e.duration_steps)),
                        step,
                    );
                    last = Some((pos, e.pitch));
                }
            }
        }
        let end = seq.tokens.len();
        let last_step = nsf.global.bar_start_step(bar_count_of(nsf));
        push(&mut seq, Token::Eos, if end > 1 { last_step } else { 0 });
        seq
    }

    pub fn decode(&self, ids: &[u32]) -> Result<Vec<MelodyNote>, DecodeError> {
        let mut notes = Vec::new();
        let mut decoder = EventDecoder::new();
        decode_stream(ExpertKind::Melody, ids, |token| {
            if let Some(DecodedEvent::Note(n)) = decoder.push(token) {
                notes.push(n);
            }
        })?;
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::{ChordLabel, ChordQuality::*};
    use crate::tokenizers::test_support::{nsf_with_tracks, track};

    #[test]
    fn conditioning_follows_the_sounding_chord() {
        let c = ChordLabel::new(0, Maj);
        let f = ChordLabel::new(5, Maj);
        let notes = [
            (0u32, 64u8, 100u8, 4u32),
            (6, 67, 90, 2),
            (8, 65, 90, 8),
            (8, 72, 90, 8),
        ];
        let nsf = nsf_with_tracks(
            1,
            vec![track(TrackType::Melody, false, &notes)],
            vec![(0, 8, c), (8, 8, f)],
        );
        let tok = MelodyTokenizer::new();
        let enc = tok.encode(&nsf);
        assert_eq!(enc.tokens.len(), enc.chord_cond.len());
        assert_eq!(enc.tokens.len(), enc.key_cond.len());
        let s: Vec<String> = enc
            .tokens
            .iter()
            .map(|i| tok.vocabulary().token(*i).unwrap().to_string())
            .collect();
        assert_eq!(
            s[..8].join(" "),
            "BOS CONDITION_KEY_C_major BAR_0 CONDITION_CHORD_C_maj BEAT_0 SUBSTEP_0 NOTE_64 VEL_BIN_6"
        );
        // The tokens of the notes on beat 2 are conditioned on F, the earlier ones on C.
        let first_f = s.iter().position(|t| t == "BEAT_2").unwrap();
        assert!(enc.chord_cond[..first_f]
            .iter()
            .all(|c2| *c2 == c.dense_index()));
        assert!(enc.chord_cond[first_f + 1..enc.tokens.len() - 1]
            .iter()
            .all(|c2| *c2 == f.dense_index()));
        let dec = tok.decode(&enc.tokens).unwrap();
        assert_eq!(dec.len(), 4);
        assert_eq!(
            dec[3],
            MelodyNote {
                bar: 0,
                beat: 2,
                substep: 0,
                pitch: 72,
                velocity_bin: 5,
                duration_bin: 5
            }
        );
    }

    #[test]
    fn song_without_melody_is_bos_eos() {
        let nsf = nsf_with_tracks(
            1,
            vec![track(TrackType::Bass, false, &[(0, 40, 90, 4)])],
            vec![],
        );
        assert_eq!(MelodyTokenizer::new().encode(&nsf).tokens.len(), 2);
    }
}
