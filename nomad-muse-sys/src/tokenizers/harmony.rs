//! MuseHarmony tokenizer: the key, then per bar the chords beat by beat.

use super::Grammar;
use super::{
    bar_count_of, decode_stream, DecodeError, DecodedEvent, EncodedSequence, EventDecoder,
    ExpertKind, Token, Vocabulary, MAX_BEATS, PHRASE_BARS, SUBSTEPS,
};
use crate::nsf::Nsf;
use crate::theory::{ChordLabel, Key};

/// One decoded chord (or rest, `chord.is_none()`), `hold_beats` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChordEvent {
    /// Absolute bar (ordinal of its `BAR` token).
    pub bar: u32,
    pub beat: u32,
    pub chord: ChordLabel,
    pub hold_beats: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarmonyDecoded {
    pub key: Option<Key>,
    pub chords: Vec<ChordEvent>,
}

impl HarmonyDecoded {
    /// The chord sounding at `beat` of `bar` ("N" where none).
    pub fn chord_at(&self, bar: u32, beat: u32) -> ChordLabel {
        self.chords
            .iter()
            .find(|c| c.bar == bar && c.beat <= beat && beat < c.beat + c.hold_beats)
            .map_or(ChordLabel::NONE, |c| c.chord)
    }
}

#[derive(Debug, Clone)]
pub struct HarmonyTokenizer {
    vocab: Vocabulary,
}

impl Default for HarmonyTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl HarmonyTokenizer {
    pub fn new() -> Self {
        HarmonyTokenizer {
            vocab: Vocabulary::for_expert(ExpertKind::Harmony),
        }
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// `BOS KEY_k (BAR_n (BEAT_b (CHORD_c | REST) HOLD_h)*)* EOS`: every bar
    /// is covered from beat 0, one entry per change of the chord sounding on
    /// the beat. `BOS EOS` when the song has no chord at all, or when no
    /// harmony sounds in it (a bare tune: [`crate::nsf::Metadata::harmony_sounds`]).
    pub fn encode(&self, nsf: &Nsf) -> EncodedSequence {
        let mut out = vec![Token::Bos];
        if nsf.metadata.harmony_sounds && nsf.chords.iter().any(|c| !c.chord.label().is_none()) {
            out.push(Token::Key(nsf.key.key()));
            for bar in 0..bar_count_of(nsf) {
                out.push(Token::Bar(bar % PHRASE_BARS));
                let start = nsf.global.bar_start_step(bar);
                let beats = nsf
                    .global
                    .bar_length(bar)
                    .div_ceil(SUBSTEPS)
                    .clamp(1, MAX_BEATS);
                let chord_on = |beat: u32| nsf.chord_at(start + beat * SUBSTEPS);
                let mut beat = 0;
                while beat < beats {
                    let chord = chord_on(beat);
                    let hold = (beat..beats).take_while(|b| chord_on(*b) == chord).count() as u32;
                    out.push(Token::Beat(beat));
                    out.push(if chord.is_none() {
                        Token::RestChord
                    } else {
                        Token::Chord(chord)
                    });
                    out.push(Token::Hold(hold));
                    beat += hold;
                }
            }
        }
        out.push(Token::Eos);
        let tokens: Vec<u32> = out.iter().filter_map(|t| self.vocab.id(*t)).collect();
        // The conditioning the model sees with each token, as the runtime derives it.
        let mut grammar = Grammar::new(ExpertKind::Harmony);
        let (mut chord_cond, mut key_cond) = (
            Vec::with_capacity(tokens.len()),
            Vec::with_capacity(tokens.len()),
        );
        for id in &tokens {
            let _ = grammar.advance(*id);
            let (c, k) = grammar.stream_condition();
            chord_cond.push(c);
            key_cond.push(k);
        }
        EncodedSequence {
            tokens,
            chord_cond,
            key_cond,
        }
    }

    pub fn decode(&self, ids: &[u32]) -> Result<HarmonyDecoded, DecodeError> {
        let mut decoded = HarmonyDecoded {
            key: None,
            chords: Vec::new(),
        };
        let mut decoder = EventDecoder::new();
        decode_stream(ExpertKind::Harmony, ids, |token| {
            match decoder.push(token) {
                Some(DecodedEvent::Key(k)) => decoded.key = Some(k),
                Some(DecodedEvent::Chord(c)) => decoded.chords.push(c),
                _ => {}
            }
        })?;
        Ok(decoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nsf::TrackType;
    use crate::theory::ChordQuality::*;
    use crate::tokenizers::test_support::{nsf_with_tracks, track};

    #[test]
    fn bars_are_covered_beat_by_beat() {
        let c = ChordLabel::new(0, Maj);
        let am = ChordLabel::new(9, Min);
        let g7 = ChordLabel::new(7, Dom7);
        // C for a bar and a half, Am for half a bar, a gap, G7 on the last two beats.
        let chords = vec![(0, 24, c), (24, 8, am), (40, 8, g7)];
        let nsf = nsf_with_tracks(
            3,
            vec![track(TrackType::Harmony, false, &[(0, 60, 90, 48)])],
            chords,
        );
        let tok = HarmonyTokenizer::new();
        let enc = tok.encode(&nsf);
        let s: Vec<String> = enc
            .tokens
            .iter()
            .map(|i| tok.vocabulary().token(*i).unwrap().to_string())
            .collect();
        assert_eq!(
            s.join(" "),
            "BOS KEY_C_major BAR_0 BEAT_0 CHORD_C_maj HOLD_4 BAR_1 BEAT_0 CHORD_C_maj HOLD_2 BEAT_2 CHORD_A_min \
             HOLD_2 BAR_2 BEAT_0 REST HOLD_2 BEAT_2 CHORD_G_dom7 HOLD_2 EOS"
        );
        // Self-conditioning: each token carries the stream's key (0 = C major
        // also before it) and the chord of the latest CHORD/REST token.
        let n = ChordLabel::NONE.dense_index();
        let want_chords = [
            n,
            n,
            n,
            n,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            am.dense_index(),
            am.dense_index(),
            am.dense_index(),
            am.dense_index(),
            n,
            n,
            n,
            g7.dense_index(),
            g7.dense_index(),
            g7.dense_index(),
        ];
        assert_eq!(enc.chord_cond, want_chords);
        assert!(enc.key_cond.iter().all(|k| *k == 0));
        let e_minor = Key::new(4, crate::theory::Mode::Minor);
        let mut g = Grammar::new(ExpertKind::Harmony);
        for t in [
            Token::Bos,
            Token::Key(e_minor),
            Token::Bar(0),
            Token::Beat(0),
            Token::Chord(am),
        ] {
            g.advance(tok.vocabulary().id(t).unwrap()).unwrap();
        }
        assert_eq!(
            g.stream_condition(),
            (am.dense_index(), e_minor.dense_index())
        );
        let dec = tok.decode(&enc.tokens).unwrap();
        assert_eq!(dec.key, Some(Key::new(0, crate::theory::Mode::Major)));
        assert_eq!(dec.chords.len(), 5);
        assert_eq!(dec.chord_at(1, 3), am);
        assert_eq!(dec.chord_at(2, 1), ChordLabel::NONE);
        assert_eq!(
            dec.chords[4],
            ChordEvent {
                bar: 2,
                beat: 2,
                chord: g7,
                hold_beats: 2
            }
        );
    }

    #[test]
    fn out_of_grammar_streams_are_rejected() {
        let tok = HarmonyTokenizer::new();
        let v = tok.vocabulary();
        let id = |t| v.id(t).unwrap();
        // A chord without its beat.
        let bad = [
            id(Token::Bos),
            id(Token::Key(Key::new(0, crate::theory::Mode::Major))),
            id(Token::Bar(0)),
            id(Token::Chord(ChordLabel::new(0, Maj))),
        ];
        assert!(matches!(
            tok.decode(&bad),
            Err(DecodeError::Unexpected { index: 3, .. })
        ));
    }
}
