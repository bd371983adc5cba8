//! Property tests: decode(encode(song)) gives back the quantized notes
//! (pitch, grid onset, velocity bin, duration bin) for every expert.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::test_support::{nsf_with_tracks, track};
use super::*;
use crate::nsf::TrackType;
use crate::theory::{ChordLabel, ChordQuality};

const BARS: u32 = 6;

fn notes(pitches: std::ops::RangeInclusive<u8>) -> impl Strategy<Value = Vec<(u32, u8, u8, u32)>> {
    prop::collection::vec((0..BARS * 16, pitches, 1u8..=127, 1u32..=24), 0..60)
}

/// What a round trip must preserve: (bar, beat, substep, pitch) → bins,
/// keeping the loudest / first of duplicate notes like the encoders do.
fn quantized(notes: &[(u32, u8, u8, u32)]) -> BTreeSet<(u32, u32, u32, u8)> {
    notes
        .iter()
        .map(|(s, p, _, _)| (s / 16, (s % 16) / 4, s % 4, *p))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn drums_round_trip(notes in notes(DRUM_PITCH_MIN..=DRUM_PITCH_MAX)) {
        let nsf = nsf_with_tracks(BARS, vec![track(TrackType::Drums, true, &notes)], vec![]);
        let tok = DrumsTokenizer::new();
        let hits = tok.decode(&tok.encode(&nsf).tokens).unwrap();
        let got: BTreeSet<_> = hits.iter().map(|h| (h.bar, h.beat, h.substep, h.pitch)).collect();
        prop_assert_eq!(got.len(), hits.len(), "duplicate hits decoded");
        prop_assert_eq!(&got, &quantized(&notes));
        for h in &hits {
            let loudest = notes.iter()
                .filter(|(s, p, _, _)| (s / 16, (s % 16) / 4, s % 4, *p) == (h.bar, h.beat, h.substep, h.pitch))
                .map(|(_, _, v, _)| velocity_bin(*v)).max().unwrap();
            prop_assert_eq!(h.velocity_bin, loudest);
        }
    }

    #[test]
    fn melody_round_trip(notes in notes(0..=127), chord_roots in prop::collection::vec(0u8..12, BARS as usize)) {
        let chords = chord_roots.iter().enumerate()
            .map(|(b, r)| (b as u32 * 16, 16, ChordLabel::new(*r, ChordQuality::Min7))).collect();
        let nsf = nsf_with_tracks(BARS, vec![track(TrackType::Melody, false, &notes)], chords);
        let tok = MelodyTokenizer::new();
        let enc = tok.encode(&nsf);
        let dec = tok.decode(&enc.tokens).unwrap();
        let got: BTreeSet<_> = dec.iter().map(|n| (n.bar, n.beat, n.substep, n.pitch)).collect();
        prop_assert_eq!(got.len(), dec.len());
        prop_assert_eq!(&got, &quantized(&notes));
        for n in &dec {
            let src = nsf.tracks[0].events.iter()
                .find(|e| (e.bar, e.beat, e.substep, e.pitch) == (n.bar, n.beat, n.substep, n.pitch)).unwrap();
            prop_assert_eq!(n.velocity_bin, velocity_bin(src.velocity));
            prop_assert_eq!(n.duration_bin, duration_bin(src.duration_steps));
        }
        // Conditioning ids are the chords of the bars the tokens sit in.
        let bar_id = |b: u32| tok.vocabulary().id(Token::Bar(b)).unwrap();
        for (i, id) in enc.tokens.iter().enumerate() {
            if let Some(b) = (0..BARS).find(|b| bar_id(*b) == *id) {
                prop_assert_eq!(enc.chord_cond[i], ChordLabel::new(chord_roots[b as usize], ChordQuality::Min7).dense_index());
            }
        }
    }

    #[test]
    fn harmony_round_trip(spans in prop::collection::vec((0u8..12, 0usize..11, 1u32..=6), 1..12)) {
        // Contiguous chord spans, in beats, from bar 0.
        let mut beat = 0;
        let mut chords = vec![];
        for (root, q, len) in &spans {
            chords.push((beat * 4, len * 4, ChordLabel::new(*root, ChordQuality::SOUNDING[*q])));
            beat += len;
        }
        let bars = beat.div_ceil(4);
        let nsf = nsf_with_tracks(bars, vec![], chords);
        let tok = HarmonyTokenizer::new();
        let dec = tok.decode(&tok.encode(&nsf).tokens).unwrap();
        for b in 0..bars * 4 {
            prop_assert_eq!(dec.chord_at(b / 4, b % 4), nsf.chord_at(b * 4));
        }
    }

    #[test]
    fn grammar_masks_only_allow_decodable_continuations(seed in any::<u64>(), expert in 0usize..4) {
        // A random walk that always picks an allowed token decodes cleanly.
        let expert = ExpertKind::WITH_CONDUCTOR[expert];
        let mut g = Grammar::new(expert).with_bar_steps(16);
        let n = g.vocabulary().len();
        let mut mask = vec![false; n];
        let mut ids = vec![];
        let mut state = seed | 1;
        for _ in 0..400 {
            g.allowed_mask(&mut mask);
            let allowed: Vec<u32> = (0..n as u32).filter(|i| mask[*i as usize]).collect();
            if allowed.is_empty() { break; }
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            let id = allowed[(state % allowed.len() as u64) as usize];
            g.advance(id).unwrap();
            ids.push(id);
        }
        let ok = match expert {
            ExpertKind::Drums => DrumsTokenizer::new().decode(&ids).is_ok(),
            ExpertKind::Harmony => HarmonyTokenizer::new().decode(&ids).is_ok(),
            ExpertKind::Melody => MelodyTokenizer::new().decode(&ids).is_ok(),
            ExpertKind::Conductor => ConductorTokenizer::new().decode(&ids).is_ok(),
        };
        prop_assert!(ok);
    }
}
