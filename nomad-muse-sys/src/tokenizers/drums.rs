//! MuseDrums tokenizer: drum hits on the 16th grid, bar by bar, with fills.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    bar_count_of, decode_stream, velocity_bin, DecodeError, DecodedEvent, EncodedSequence,
    EventDecoder, ExpertKind, Token, Vocabulary, DRUM_PITCH_MAX, DRUM_PITCH_MIN, MAX_BEATS,
    MAX_REST_STEPS, PHRASE_BARS, SUBSTEPS,
};
use crate::nsf::{Nsf, TrackType};

/// One decoded drum hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrumHit {
    /// Absolute bar (ordinal of its `BAR` token).
    pub bar: u32,
    pub beat: u32,
    pub substep: u32,
    pub pitch: u8,
    pub velocity_bin: u8,
    pub in_fill: bool,
}

/// Toms and snare: the voices fills are made of.
const FILL_VOICES: [u8; 9] = [38, 40, 41, 43, 45, 47, 48, 50, 37];
/// Crash-like cymbals that mark the downbeat after a fill.
const CRASHES: [u8; 4] = [49, 52, 55, 57];

/// Hits of one bar: step within bar → pitch → velocity bin.
type BarHits = BTreeMap<u32, BTreeMap<u8, u8>>;

#[derive(Debug, Clone)]
pub struct DrumsTokenizer {
    vocab: Vocabulary,
}

impl Default for DrumsTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl DrumsTokenizer {
    pub fn new() -> Self {
        DrumsTokenizer {
            vocab: Vocabulary::for_expert(ExpertKind::Drums),
        }
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// The song's drum hits, bar by bar. Pitches outside the GM drum range
    /// and positions past `MAX_BEATS` beats are dropped; the same pitch twice
    /// on one step keeps the louder hit.
    fn bars(&self, nsf: &Nsf) -> Vec<BarHits> {
        let drum_tracks = nsf
            .tracks
            .iter()
            .filter(|t| t.is_drum || t.classification.kind == TrackType::Drums);
        let mut bars: Vec<BarHits> = vec![BarHits::new(); bar_count_of(nsf) as usize];
        for e in drum_tracks.flat_map(|t| t.events.iter()) {
            if !(DRUM_PITCH_MIN..=DRUM_PITCH_MAX).contains(&e.pitch) || e.beat >= MAX_BEATS {
                continue;
            }
            let Some(bar) = bars.get_mut(e.bar as usize) else {
                continue;
            };
            let step = e.beat * SUBSTEPS + e.substep;
            let vel = bar.entry(step).or_default().entry(e.pitch).or_insert(0);
            *vel = (*vel).max(velocity_bin(e.velocity));
        }
        bars
    }

    /// Token ids of the song's drums (`BOS EOS` when it has none).
    pub fn encode(&self, nsf: &Nsf) -> EncodedSequence {
        let bars = self.bars(nsf);
        let mut out = vec![Token::Bos];
        if bars.iter().any(|b| !b.is_empty()) {
            let fills = detect_fills(&bars);
            for (i, bar) in bars.iter().enumerate() {
                out.push(Token::Bar(i as u32 % PHRASE_BARS));
                if fills[i] {
                    out.push(Token::FillStart);
                }
                if bar.is_empty() {
                    let steps = nsf.global.bar_length(i as u32).clamp(1, MAX_REST_STEPS);
                    out.push(Token::Rest(steps));
                }
                for (step, hits) in bar {
                    out.push(Token::Beat(step / SUBSTEPS));
                    out.push(Token::Substep(step % SUBSTEPS));
                    for (pitch, vel) in hits {
                        out.push(Token::DrumHit(*pitch));
                        out.push(Token::VelBin(*vel));
                    }
                }
                if fills[i] {
                    out.push(Token::FillEnd);
                }
            }
        }
        out.push(Token::Eos);
        EncodedSequence {
            tokens: self.ids(&out),
            ..Default::default()
        }
    }

    fn ids(&self, tokens: &[Token]) -> Vec<u32> {
        tokens.iter().filter_map(|t| self.vocab.id(*t)).collect()
    }

    /// Hits of a token stream; the stream must follow the drums grammar (a
    /// missing `EOS` is fine: generation stops anywhere).
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<DrumHit>, DecodeError> {
        let mut hits = Vec::new();
        let mut decoder = EventDecoder::new();
        decode_stream(ExpertKind::Drums, ids, |token| {
            if let Some(DecodedEvent::Hit(h)) = decoder.push(token) {
                hits.push(h);
            }
        })?;
        Ok(hits)
    }

    /// Per-token groove label: 1 when the bar the token belongs to has exactly
    /// the hits of the previous bar (a repeat), 0 otherwise (first bar, fills,
    /// variations, and tokens before the first bar).
    pub fn groove_labels(&self, ids: &[u32]) -> Vec<u8> {
        let bar_of = |id: u32| matches!(self.vocab.token(id), Some(Token::Bar(_)));
        let is_marker = |id: u32| {
            matches!(
                self.vocab.token(id),
                Some(Token::FillStart | Token::FillEnd | Token::Eos | Token::Pad)
            )
        };
        let mut labels = vec![0u8; ids.len()];
        let starts: Vec<usize> = (0..ids.len()).filter(|i| bar_of(ids[*i])).collect();
        let content = |k: usize| -> Vec<u32> {
            let end = starts.get(k + 1).copied().unwrap_or(ids.len());
            ids[starts[k] + 1..end]
                .iter()
                .copied()
                .filter(|id| !is_marker(*id))
                .collect()
        };
        for k in 1..starts.len() {
            if content(k) == content(k - 1) {
                let end = starts.get(k + 1).copied().unwrap_or(ids.len());
                labels[starts[k]..end].iter_mut().for_each(|l| *l = 1);
            }
        }
        labels
    }
}

/// Onset grid of a bar without cymbals, the part of a groove that fills change.
fn rhythm_of(bar: &BarHits) -> Vec<(u32, u8)> {
    bar.iter()
        .flat_map(|(step, hits)| hits.keys().map(move |p| (*step, *p)))
        .filter(|(_, p)| !CRASHES.contains(p) && ![42, 44, 46, 51, 53, 59].contains(p))
        .collect()
}

/// A bar is a fill when it departs from the track's most common rhythm and
/// either uses fill voices densely or leads into a crash on the next downbeat.
fn detect_fills(bars: &[BarHits]) -> Vec<bool> {
    let rhythms: Vec<Vec<(u32, u8)>> = bars.iter().map(rhythm_of).collect();
    let mut counts: BTreeMap<&Vec<(u32, u8)>, usize> = BTreeMap::new();
    for r in rhythms.iter().filter(|r| !r.is_empty()) {
        *counts.entry(r).or_default() += 1;
    }
    let Some((groove, _)) = counts
        .iter()
        .max_by_key(|(r, c)| (**c, std::cmp::Reverse(*r)))
    else {
        return vec![false; bars.len()];
    };
    (0..bars.len())
        .map(|i| {
            let r = &rhythms[i];
            if r.is_empty() || r == *groove {
                return false;
            }
            let differing = r.iter().filter(|x| !groove.contains(x)).count()
                + groove.iter().filter(|x| !r.contains(x)).count();
            let fill_hits = r
                .iter()
                .filter(|(step, p)| *step >= 8 && FILL_VOICES.contains(p))
                .count();
            let crash_next = bars
                .get(i + 1)
                .and_then(|b| b.get(&0))
                .is_some_and(|h| h.keys().any(|p| CRASHES.contains(p)));
            differing >= 3 && (fill_hits >= 4 || (crash_next && fill_hits >= 2))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizers::test_support::{nsf_with_tracks, track};

    #[test]
    fn encodes_a_rock_bar_and_decodes_it_back() {
        // Kick on 1 and 3, snare on 2 and 4, hats on 8ths, one bar of 4/4.
        let mut notes = vec![];
        for step in (0..16).step_by(2) {
            notes.push((step, 42u8, 80u8, 1u32));
        }
        notes.extend([
            (0, 36, 110, 1),
            (8, 36, 100, 1),
            (4, 38, 120, 1),
            (12, 38, 120, 1),
        ]);
        let nsf = nsf_with_tracks(1, vec![track(TrackType::Drums, true, &notes)], vec![]);
        let tok = DrumsTokenizer::new();
        let enc = tok.encode(&nsf);
        let strings: Vec<String> = enc
            .tokens
            .iter()
            .map(|i| tok.vocabulary().token(*i).unwrap().to_string())
            .collect();
        assert_eq!(
            &strings[..8],
            [
                "BOS",
                "BAR_0",
                "BEAT_0",
                "SUBSTEP_0",
                "DRUM_HIT_36",
                "VEL_BIN_6",
                "DRUM_HIT_42",
                "VEL_BIN_5"
            ]
        );
        assert_eq!(strings.last().unwrap(), "EOS");
        let hits = tok.decode(&enc.tokens).unwrap();
        assert_eq!(hits.len(), notes.len());
        assert!(hits.iter().all(|h| h.bar == 0 && !h.in_fill));
        assert!(hits.contains(&DrumHit {
            bar: 0,
            beat: 3,
            substep: 0,
            pitch: 38,
            velocity_bin: 7,
            in_fill: false
        }));
    }

    #[test]
    fn empty_bar_is_a_rest_and_repeats_are_labelled() {
        let bar = |b: u32| vec![(b * 16, 36u8, 100u8, 1u32), (b * 16 + 4, 38, 100, 1)];
        let mut notes = bar(0);
        notes.extend(bar(1));
        notes.extend(bar(3));
        let nsf = nsf_with_tracks(4, vec![track(TrackType::Drums, true, &notes)], vec![]);
        let tok = DrumsTokenizer::new();
        let enc = tok.encode(&nsf);
        let rest = tok.vocabulary().id(Token::Rest(16)).unwrap();
        assert_eq!(enc.tokens.iter().filter(|t| **t == rest).count(), 1);
        let labels = tok.groove_labels(&enc.tokens);
        let bar_ids: Vec<usize> = (0..enc.tokens.len())
            .filter(|i| matches!(tok.vocabulary().token(enc.tokens[*i]), Some(Token::Bar(_))))
            .collect();
        let bar_labels: Vec<u8> = bar_ids.iter().map(|i| labels[*i]).collect();
        assert_eq!(bar_labels, vec![0, 1, 0, 0]);
    }

    #[test]
    fn fill_before_a_crash_is_marked() {
        let mut notes = vec![];
        for b in 0..4u32 {
            if b == 2 {
                // Tom run on beats 3–4, crash on the next downbeat.
                for (i, p) in [50u8, 48, 47, 45, 43, 41, 41, 41].iter().enumerate() {
                    notes.push((b * 16 + 8 + i as u32, *p, 100, 1));
                }
                notes.push((b * 16, 36, 100, 1));
            } else {
                notes.extend([
                    (b * 16, 36, 100, 1),
                    (b * 16 + 4, 38, 100, 1),
                    (b * 16 + 12, 38, 100, 1),
                ]);
            }
        }
        notes.push((3 * 16, 49, 110, 1));
        let nsf = nsf_with_tracks(4, vec![track(TrackType::Drums, true, &notes)], vec![]);
        let tok = DrumsTokenizer::new();
        let hits = tok.decode(&tok.encode(&nsf).tokens).unwrap();
        assert!(hits.iter().filter(|h| h.bar == 2).all(|h| h.in_fill));
        assert!(hits.iter().filter(|h| h.bar != 2).all(|h| !h.in_fill));
    }

    #[test]
    fn no_drums_gives_bos_eos() {
        let nsf = nsf_with_tracks(2, vec![], vec![]);
        assert_eq!(
            DrumsTokenizer::new().encode(&nsf).tokens,
            vec![super::super::BOS_ID, super::super::EOS_ID]
        );
    }
}
