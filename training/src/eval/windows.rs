//! The card's real side: windows of `bars` bars sampled across whole songs,
//! not each song's first bars — in pop those are mostly the intro (sparse
//! melody, few chords), which is not what a part sounds like.
//!
//! Windows start on phrase boundaries (multiples of [`PHRASE_BARS`]), so a
//! window's bar tokens read `BAR_0, BAR_1, …` exactly like a sampled piece.

use std::collections::BTreeMap;

use nomad_muse::runtime::TimeSignature;
use nomad_muse::tokenizers::{
    EncodedSequence, ExpertKind, HarmonyDecoded, HarmonyTokenizer, Token, Vocabulary, EOS_ID,
    PHRASE_BARS,
};

use super::{decode_piece, Piece};

/// A window of a real validation song: which song (its index in the
/// validation list), the piece, and the song's own harmony over the same bars.
#[derive(Debug, Clone)]
pub struct RealWindow {
    pub song: usize,
    pub piece: Piece,
    pub harmony: Option<HarmonyDecoded>,
}

/// The real side of the card: every phrase-aligned window of `bars` bars of
/// every validation song in which the part plays in at least half the bars,
/// thinned evenly to at most `cap`. Melody windows need the song's harmony.
pub fn real_windows(
    expert: ExpertKind,
    val: &[(String, EncodedSequence)],
    harmony_tokens: &BTreeMap<&str, &[u32]>,
    bars: u32,
    cap: usize,
) -> Vec<RealWindow> {
    let vocab = Vocabulary::for_expert(expert);
    let harmony_vocab = Vocabulary::for_expert(ExpertKind::Harmony);
    let mut all = Vec::new();
    for (song, (name, seq)) in val.iter().enumerate() {
        // A plan's stream opens with a section: the Conductor's window is
        // the song's first bars.
        let starts = match expert {
            ExpertKind::Conductor => vec![0],
            _ => window_starts(bar_count(&seq.tokens, &vocab), bars),
        };
        for start in starts {
            let Some(tokens) = window_of_bars(&seq.tokens, &vocab, start, bars) else {
                continue;
            };
            let harmony = harmony_tokens
                .get(name.as_str())
                .and_then(|t| window_of_bars(t, &harmony_vocab, start, bars))
                .and_then(|t| HarmonyTokenizer::new().decode(&t).ok());
            if expert == ExpertKind::Melody && harmony.is_none() {
                continue;
            }
            match decode_piece(expert, tokens, harmony.as_ref()) {
                Ok(piece) if piece.part_mostly_plays() => all.push(RealWindow {
                    song,
                    piece,
                    harmony,
                }),
                _ => {}
            }
        }
    }
    thin_evenly(all, cap)
}

/// At most `cap` of `items`, spread evenly over the list (so every part of
/// every song keeps its share).
fn thin_evenly<T>(items: Vec<T>, cap: usize) -> Vec<T> {
    let n = items.len();
    if n <= cap || cap == 0 {
        return items;
    }
    let keep: std::collections::BTreeSet<usize> = (0..cap).map(|i| i * n / cap).collect();
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, x)| x)
        .collect()
}

/// Bars `start..start + bars` of a token stream: the preamble before the
/// first bar (BOS, key) kept, EOS appended. `None` when the song has fewer
/// than `start + 1` bars.
pub fn window_of_bars(
    tokens: &[u32],
    vocab: &Vocabulary,
    start: u32,
    bars: u32,
) -> Option<Vec<u32>> {
    let mut seen = 0u32;
    let mut out = Vec::new();
    for &t in tokens {
        match vocab.token(t) {
            Some(Token::Bar(_)) => {
                seen += 1;
                if seen > start + bars {
                    break;
                }
            }
            Some(Token::Eos) => break,
            _ => {}
        }
        // Before the first bar: preamble; then only bars inside the window.
        if seen == 0 || seen > start {
            out.push(t);
        }
    }
    (seen > start).then(|| {
        out.push(EOS_ID);
        out
    })
}

/// Number of bars of a token stream.
pub fn bar_count(tokens: &[u32], vocab: &Vocabulary) -> u32 {
    tokens
        .iter()
        .filter(|&&t| matches!(vocab.token(t), Some(Token::Bar(_))))
        .count() as u32
}

/// First bars of the windows cut from a song of `song_bars` bars: every
/// phrase-aligned window that fits whole; a song shorter than one window
/// gives one (short) window from its start.
pub fn window_starts(song_bars: u32, bars: u32) -> Vec<u32> {
    let stride = bars.div_ceil(PHRASE_BARS).max(1) * PHRASE_BARS;
    let whole: Vec<u32> = (0..)
        .map(|i| i * stride)
        .take_while(|s| s + bars <= song_bars)
        .collect();
    if whole.is_empty() && song_bars > 0 {
        vec![0]
    } else {
        whole
    }
}

/// Beats in each bar of a decoded harmony window (its holds summed).
fn beats_per_bar(harmony: &HarmonyDecoded) -> Vec<u32> {
    let bars = harmony.chords.iter().map(|c| c.bar + 1).max().unwrap_or(0);
    let mut beats = vec![0u32; bars as usize];
    for c in &harmony.chords {
        beats[c.bar as usize] += c.hold_beats;
    }
    beats
}

/// The window's metre: its most common bar length in quarter beats (ties
/// to the longer), as n/4. 4/4 when the harmony says nothing or the length
/// is not one the band plays.
pub fn metre_of(harmony: Option<&HarmonyDecoded>) -> TimeSignature {
    let Some(h) = harmony else {
        return TimeSignature::FOUR_FOUR;
    };
    let mut counts = [0u32; 9];
    for b in beats_per_bar(h) {
        if let Some(c) = counts.get_mut(b as usize) {
            *c += 1;
        }
    }
    let beats = (1..counts.len())
        .max_by_key(|&b| (counts[b], b))
        .filter(|&b| counts[b] > 0)
        .unwrap_or(4);
    TimeSignature::new(beats as u8, 4).unwrap_or(TimeSignature::FOUR_FOUR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomad_muse::theory::{ChordLabel, ChordQuality};
    use nomad_muse::tokenizers::{ChordEvent, ExpertKind, HarmonyTokenizer};

    fn harmony(bar_beats: &[u32]) -> HarmonyDecoded {
        HarmonyDecoded {
            key: None,
            chords: bar_beats
                .iter()
                .enumerate()
                .map(|(bar, &b)| ChordEvent {
                    bar: bar as u32,
                    beat: 0,
                    chord: ChordLabel::new(bar as u8 % 12, ChordQuality::Maj),
                    hold_beats: b,
                })
                .collect(),
        }
    }

    /// `BOS KEY (BAR BEAT CHORD HOLD)* EOS`, as the harmony tokenizer writes it.
    fn encode(h: &HarmonyDecoded, vocab: &Vocabulary) -> Vec<u32> {
        let key = nomad_muse::theory::Key::new(0, nomad_muse::theory::Mode::Major);
        let mut t = vec![Token::Bos, Token::Key(key)];
        for c in &h.chords {
            t.extend([
                Token::Bar(c.bar % PHRASE_BARS),
                Token::Beat(0),
                Token::Chord(c.chord),
                Token::Hold(c.hold_beats),
            ]);
        }
        t.push(Token::Eos);
        t.iter().map(|x| vocab.id(*x).unwrap()).collect()
    }

    #[test]
    fn windows_cover_whole_songs_on_phrase_boundaries() {
        assert_eq!(window_starts(70, 16), [0, 16, 32, 48]);
        assert_eq!(window_starts(70, 2), [0, 16, 32, 48, 64]);
        assert_eq!(window_starts(10, 16), [0]);
        assert_eq!(window_starts(0, 16), Vec::<u32>::new());
        assert_eq!(window_starts(40, 20), [0]);
    }

    #[test]
    fn a_window_keeps_the_preamble_and_exactly_its_bars() {
        let tok = HarmonyTokenizer::new();
        let vocab = Vocabulary::for_expert(ExpertKind::Harmony);
        let h = harmony(&[4; 40]);
        let ids = encode(&h, &vocab);
        assert_eq!(bar_count(&ids, &vocab), 40);
        let w = window_of_bars(&ids, &vocab, 16, 8).unwrap();
        let d = tok.decode(&w).unwrap();
        assert_eq!(d.chords.len(), 8);
        // The window's first bar is the song's bar 16, renumbered 0.
        assert_eq!(d.chords[0].chord, h.chords[16].chord);
        assert_eq!(d.chords[0].bar, 0);
        assert_eq!(d.chords[7].chord, h.chords[23].chord);
        assert!(window_of_bars(&ids, &vocab, 40, 8).is_none());
        // The last window may run past the end: it keeps what there is.
        let tail = tok
            .decode(&window_of_bars(&ids, &vocab, 32, 16).unwrap())
            .unwrap();
        assert_eq!(tail.chords.len(), 8);
    }

    #[test]
    fn thinning_keeps_the_spread() {
        let v: Vec<u32> = (0..100).collect();
        assert_eq!(thin_evenly(v.clone(), 4), [0, 25, 50, 75]);
        assert_eq!(thin_evenly(v.clone(), 200).len(), 100);
    }

    #[test]
    fn the_metre_is_the_most_common_bar_length() {
        assert_eq!(metre_of(Some(&harmony(&[3, 3, 3, 4]))).beats_per_bar(), 3);
        assert_eq!(metre_of(Some(&harmony(&[4, 4, 2]))).beats_per_bar(), 4);
        assert_eq!(metre_of(Some(&harmony(&[]))).beats_per_bar(), 4);
        assert_eq!(metre_of(None).beats_per_bar(), 4);
    }
}
