//! Transposition of encoded sequences by whole semitones, in token space:
//! keys, chords and notes move together, so a transposed song is as valid
//! as the original. Training uses it to show every progression in many keys
//! (a small corpus has only a few songs per key).

use super::{EncodedSequence, ExpertKind, Token, Vocabulary};
use crate::theory::{ChordLabel, Key};

fn shift_pc(pc: u8, semitones: i32) -> u8 {
    (pc as i32 + semitones).rem_euclid(12) as u8
}

fn shift_chord(c: ChordLabel, semitones: i32) -> ChordLabel {
    if c.is_none() {
        c
    } else {
        ChordLabel::new(shift_pc(c.root, semitones), c.quality)
    }
}

fn shift_key(k: Key, semitones: i32) -> Key {
    Key::new(shift_pc(k.tonic, semitones), k.mode)
}

/// `seq` of `expert` moved by `semitones` (drums are returned unchanged).
/// Melody notes that would leave 0..=127 move the whole melody an octave the
/// other way instead, so note order (and thus the grammar) is preserved.
pub fn transpose(expert: ExpertKind, seq: &EncodedSequence, semitones: i32) -> EncodedSequence {
    if expert == ExpertKind::Drums || semitones % 12 == 0 {
        return seq.clone();
    }
    let vocab = Vocabulary::for_expert(expert);
    let notes = || {
        seq.tokens.iter().filter_map(|t| match vocab.token(*t) {
            Some(Token::Note(p)) => Some(p as i32),
            _ => None,
        })
    };
    let mut shift = semitones;
    if notes().max().is_some_and(|p| p + shift > 127) {
        shift -= 12;
    }
    if notes().min().is_some_and(|p| p + shift < 0) {
        shift += 12;
    }
    let tokens = seq
        .tokens
        .iter()
        .map(|&id| {
            let moved = match vocab.token(id) {
                Some(Token::Key(k)) => Token::Key(shift_key(k, semitones)),
                Some(Token::ConditionKey(k)) => Token::ConditionKey(shift_key(k, semitones)),
                Some(Token::Chord(c)) => Token::Chord(shift_chord(c, semitones)),
                Some(Token::ConditionChord(c)) => Token::ConditionChord(shift_chord(c, semitones)),
                Some(Token::Note(p)) => Token::Note((p as i32 + shift).clamp(0, 127) as u8),
                _ => return id,
            };
            vocab.id(moved).unwrap_or(id)
        })
        .collect();
    let chord_cond = seq
        .chord_cond
        .iter()
        .map(|&i| {
            ChordLabel::from_dense_index(i).map_or(i, |c| shift_chord(c, semitones).dense_index())
        })
        .collect();
    let key_cond = seq
        .key_cond
        .iter()
        .map(|&i| Key::from_dense_index(i).map_or(i, |k| shift_key(k, semitones).dense_index()))
        .collect();
    EncodedSequence {
        tokens,
        chord_cond,
        key_cond,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theory::{ChordQuality, Mode};
    use crate::tokenizers::{HarmonyTokenizer, MelodyTokenizer};

    fn seq(
        expert: ExpertKind,
        tokens: &[Token],
        chord: &[ChordLabel],
        key: &[Key],
    ) -> EncodedSequence {
        let v = Vocabulary::for_expert(expert);
        EncodedSequence {
            tokens: tokens.iter().map(|t| v.id(*t).unwrap()).collect(),
            chord_cond: chord.iter().map(|c| c.dense_index()).collect(),
            key_cond: key.iter().map(|k| k.dense_index()).collect(),
        }
    }

    #[test]
    fn harmony_moves_key_and_chords_and_still_decodes() {
        let c = Key::new(0, Mode::Major);
        let s = seq(
            ExpertKind::Harmony,
            &[
                Token::Bos,
                Token::Key(c),
                Token::Bar(0),
                Token::Beat(0),
                Token::Chord(ChordLabel::new(7, ChordQuality::Dom7)),
                Token::Hold(4),
                Token::Eos,
            ],
            &[],
            &[],
        );
        let up = transpose(ExpertKind::Harmony, &s, 2);
        let d = HarmonyTokenizer::new().decode(&up.tokens).unwrap();
        assert_eq!(d.key, Some(Key::new(2, Mode::Major)));
        assert_eq!(d.chords[0].chord, ChordLabel::new(9, ChordQuality::Dom7));
        assert_eq!(transpose(ExpertKind::Harmony, &up, -2), s);
    }

    #[test]
    fn melody_moves_notes_and_conditions_and_folds_at_the_edges() {
        let a = Key::new(9, Mode::Minor);
        let am = ChordLabel::new(9, ChordQuality::Min);
        let tokens = [
            Token::Bos,
            Token::ConditionKey(a),
            Token::Bar(0),
            Token::ConditionChord(am),
            Token::Beat(0),
            Token::Substep(0),
            Token::Note(57),
            Token::VelBin(4),
            Token::DurBin(2),
            Token::Note(124),
            Token::VelBin(4),
            Token::DurBin(2),
            Token::Eos,
        ];
        let s = seq(ExpertKind::Melody, &tokens, &[am; 13], &[a; 13]);
        let up = transpose(ExpertKind::Melody, &s, 5);
        let notes = MelodyTokenizer::new().decode(&up.tokens).unwrap();
        // 124 + 5 > 127: the whole melody goes down 7 instead.
        assert_eq!(
            notes.iter().map(|n| n.pitch).collect::<Vec<_>>(),
            vec![50, 117]
        );
        let d_minor = ChordLabel::new(2, ChordQuality::Min).dense_index();
        assert!(up.chord_cond.iter().all(|c| *c == d_minor));
        assert!(up
            .key_cond
            .iter()
            .all(|k| *k == Key::new(2, Mode::Minor).dense_index()));
    }
}
