//! MuseConductor tokenizer: the song's form bar by bar (`nsf::form`) —
//! where sections start, their labels and whether they come back, each
//! bar's energy, each part's density and the fills.

use serde::{Deserialize, Serialize};

use super::{
    decode_stream, DecodeError, EncodedSequence, ExpertKind, Token, Vocabulary, DENSITY_LEVELS,
    DENSITY_PARTS, ENERGY_LEVELS, PHRASE_BARS, SECTION_LABELS,
};
use crate::nsf::form::{FormPart, SongForm};
use crate::nsf::Nsf;

/// How a section begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SectionStart {
    /// New material, or a label heard before played anew.
    New,
    /// Replays the latest section of its label.
    Repeat,
    /// Varies it (A′).
    Vary,
}

/// One decoded bar of the Conductor's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConductorBar {
    /// Bar within its section (0 starts one).
    pub section_bar: u32,
    /// The section's label, 0 = A.
    pub label: u8,
    /// Set on a section's first bar.
    pub start: Option<SectionStart>,
    /// 0 silent, 1..=4 quiet to loud within the song.
    pub energy: u8,
    /// Per part (drums, bass, melody, harmony): 0 rests, 1..=3 denser.
    pub density: [u8; FormPart::COUNT],
    pub fill: bool,
}

#[derive(Debug, Clone)]
pub struct ConductorTokenizer {
    vocab: Vocabulary,
}

impl Default for ConductorTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl ConductorTokenizer {
    pub fn new() -> Self {
        ConductorTokenizer {
            vocab: Vocabulary::for_expert(ExpertKind::Conductor),
        }
    }

    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// The song's form as tokens (`BOS EOS` when it has none).
    pub fn encode(&self, nsf: &Nsf) -> EncodedSequence {
        let mut out = vec![Token::Bos];
        if let Some(form) = &nsf.form {
            encode_form(form, &mut out);
        }
        out.push(Token::Eos);
        EncodedSequence {
            tokens: out.iter().filter_map(|t| self.vocab.id(*t)).collect(),
            ..Default::default()
        }
    }

    /// The plan of a token stream, which must follow the conductor grammar
    /// (a missing `EOS` is fine).
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<ConductorBar>, DecodeError> {
        let mut bars: Vec<ConductorBar> = Vec::new();
        let mut label = 0;
        decode_stream(ExpertKind::Conductor, ids, |token| {
            let bar = bars.last_mut();
            match (token, bar) {
                (Token::Bar(n), _) => bars.push(ConductorBar {
                    section_bar: n,
                    label,
                    start: (n == 0).then_some(SectionStart::New),
                    energy: 0,
                    density: [0; FormPart::COUNT],
                    fill: false,
                }),
                (Token::Section(l), Some(b)) => {
                    label = l;
                    b.label = l;
                }
                (Token::Repeat, Some(b)) => b.start = Some(SectionStart::Repeat),
                (Token::Vary, Some(b)) => b.start = Some(SectionStart::Vary),
                (Token::Energy(e), Some(b)) => b.energy = e,
                (Token::Density(p, d), Some(b)) => b.density[p as usize % FormPart::COUNT] = d,
                (Token::Fill, Some(b)) => b.fill = true,
                _ => {}
            }
        })?;
        Ok(bars)
    }
}

fn encode_form(form: &SongForm, out: &mut Vec<Token>) {
    for bar in &form.bars {
        let Some(section) = form.sections.get(bar.section as usize) else {
            continue;
        };
        out.push(Token::Bar(bar.section_bar.min(PHRASE_BARS - 1)));
        if bar.section_bar == 0 {
            out.push(Token::Section(section.label.min(SECTION_LABELS - 1)));
            match (section.repeat_of, section.variant) {
                (Some(_), false) => out.push(Token::Repeat),
                (Some(_), true) => out.push(Token::Vary),
                (None, _) => {}
            }
        }
        out.push(Token::Energy(bar.energy.min(ENERGY_LEVELS - 1)));
        for part in 0..DENSITY_PARTS {
            let d = bar.density[part as usize].min(DENSITY_LEVELS - 1);
            out.push(Token::Density(part, d));
        }
        if bar.fill {
            out.push(Token::Fill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nsf::form::{BarForm, FormSection};
    use crate::tokenizers::test_support::nsf_with_tracks;

    fn section(start_bar: u32, bars: u32, label: u8, repeat_of: Option<u32>) -> FormSection {
        FormSection {
            start_bar,
            bars,
            label,
            repeat_of,
            variant: false,
        }
    }

    fn bar(section: u32, section_bar: u32, energy: u8, fill: bool) -> BarForm {
        BarForm {
            section,
            section_bar,
            repeat_of: None,
            energy,
            density: [0, 1, 2, 3],
            fill,
        }
    }

    #[test]
    fn a_form_round_trips_through_tokens() {
        let mut nsf = nsf_with_tracks(6, vec![], vec![]);
        nsf.form = Some(SongForm {
            sections: vec![
                section(0, 2, 0, None),
                section(2, 2, 1, None),
                section(4, 2, 0, Some(0)),
            ],
            bars: vec![
                bar(0, 0, 1, false),
                bar(0, 1, 2, true),
                bar(1, 0, 3, false),
                bar(1, 1, 4, false),
                bar(2, 0, 2, false),
                bar(2, 1, 0, false),
            ],
        });
        let t = ConductorTokenizer::new();
        let seq = t.encode(&nsf);
        let plan = t.decode(&seq.tokens).expect("decodes");
        assert_eq!(plan.len(), 6);
        let labels: Vec<u8> = plan.iter().map(|b| b.label).collect();
        assert_eq!(labels, [0, 0, 1, 1, 0, 0]);
        assert_eq!(plan[4].start, Some(SectionStart::Repeat));
        assert_eq!(plan[2].start, Some(SectionStart::New));
        assert_eq!(plan[3].start, None);
        assert!(plan[1].fill && !plan[0].fill);
        assert_eq!(plan[3].energy, 4);
        assert_eq!(plan[5].density, [0, 1, 2, 3]);
    }

    #[test]
    fn the_grammar_refuses_impossible_forms() {
        let t = ConductorTokenizer::new();
        let id = |s: &str| {
            t.vocabulary()
                .id(s.parse().expect("token"))
                .expect("in vocab")
        };
        let densities = [
            "DENSITY_DRUMS_0",
            "DENSITY_BASS_0",
            "DENSITY_MELODY_1",
            "DENSITY_HARMONY_2",
        ];
        let bar0 = |label: &str| {
            let mut v = vec![id("BAR_0"), id(label), id("ENERGY_1")];
            v.extend(densities.map(id));
            v
        };
        // A first section must be A, and cannot repeat anything.
        assert!(t.decode(&bar0("SECTION_B")).is_err());
        assert!(t
            .decode(&[id("BAR_0"), id("SECTION_A"), id("REPEAT")])
            .is_err());
        // Bars count up within a section; BAR_2 cannot follow BAR_0.
        let mut skip = bar0("SECTION_A");
        skip.push(id("BAR_2"));
        assert!(t.decode(&skip).is_err());
        // Densities come in part order, all four.
        let mut short = vec![
            id("BAR_0"),
            id("SECTION_A"),
            id("ENERGY_1"),
            id("DENSITY_BASS_1"),
        ];
        assert!(t.decode(&short).is_err());
        short = bar0("SECTION_A");
        short.extend(bar0("SECTION_B"));
        short.extend([id("BAR_0"), id("SECTION_A"), id("REPEAT"), id("ENERGY_2")]);
        short.extend(densities.map(id));
        short.push(id("FILL"));
        let plan = t.decode(&short).expect("A B A decodes");
        assert_eq!(plan[2].start, Some(SectionStart::Repeat));
        assert!(plan[2].fill);
    }
}
