//! The band's operations: set the song, generate the next bar, re-roll,
//! read notes and tokens back, write MIDI.

use std::path::Path;

use crate::midi::{write_smf_with_keys, MidiNote, MidiSongSpec, MidiTrackSpec};
use crate::runtime::{ExpertSession, MuseError, StepModel};
use crate::theory::{ChordLabel, Key, Mode};
use crate::tokenizers::{ChordEvent, DecodedEvent, Token, BOS_ID, EOS_ID};

use super::conductor::{direct, neutral_directions, ConductorRunner, Direction};
use super::schedule::{BarOutput, PartRunner, BAR_BEATS};
use super::snapshot::{BarMark, SongStore, MAX_TOKENS_PER_BAR};
use super::voicing::render;
use super::{
    BandNote, BarNotes, ChordTrack, Part, PartControls, Primer, SongContext, TimeSignature,
    TICKS_PER_QUARTER,
};

/// What a re-roll regenerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reroll {
    /// Bar N only; the bars after it are kept note for note.
    Bar,
    /// Bar N and every bar after it (the host calls `next_bar` again).
    FromBar,
}

pub struct Band<M: StepModel> {
    parts: [Option<PartRunner<M>>; 3],
    controls: [PartControls; 3],
    song: SongContext,
    primers: [Primer; 3],
    /// The song-opening tokens (BOS, the key) of each part.
    prelude: [[u32; 2]; 3],
    store: SongStore,
    seed: u64,
    rng: u64,
    key: Option<Key>,
    started: bool,
    bars: u32,
    /// Bars with stored tokens (more than `bars` after a re-roll from N,
    /// so locked parts can replay theirs).
    stored_bars: u32,
    replay_buf: Box<[u16; MAX_TOKENS_PER_BAR]>,
    /// The song's form: the Conductor expert, or the host's form (which
    /// overrides it), and what each bar was told.
    pub(super) conductor: Option<ConductorRunner<M>>,
    pub(super) host_form: Vec<crate::tokenizers::ConductorBar>,
    pub(super) directions: Vec<Direction>,
}

/// splitmix64: the RNG state of a re-roll from its seed.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Band<ExpertSession> {
    /// The three exported experts, 4/4, default controls.
    pub fn load(drums: &Path, harmony: &Path, melody: &Path, seed: u64) -> Result<Self, MuseError> {
        Band::new(
            Some(ExpertSession::load(harmony)?),
            Some(ExpertSession::load(melody)?),
            Some(ExpertSession::load(drums)?),
            seed,
            super::DEFAULT_MAX_BARS,
        )
    }
}

impl<M: StepModel> Band<M> {
    /// A band of the given parts (any may be absent: the chord track then
    /// plays the harmony, and a missing melody or drums stays silent),
    /// holding up to `max_bars` bars.
    pub fn new(
        harmony: Option<M>,
        melody: Option<M>,
        drums: Option<M>,
        seed: u64,
        max_bars: usize,
    ) -> Result<Self, MuseError> {
        let metre = TimeSignature::FOUR_FOUR;
        let mut parts: [Option<PartRunner<M>>; 3] = [None, None, None];
        for (part, model) in Part::ALL.into_iter().zip([harmony, melody, drums]) {
            let Some(model) = model else { continue };
            if model.expert() != part.expert() {
                return Err(MuseError::WrongExpert {
                    expected: part.expert().name().into(),
                    found: model.expert().name().into(),
                });
            }
            parts[part.index()] = Some(PartRunner::new(part, model, metre));
        }
        if max_bars == 0 || max_bars > 65_536 {
            return Err(MuseError::InvalidArgument(format!(
                "max_bars {max_bars} not in 1..=65536"
            )));
        }
        let state_lens =
            std::array::from_fn(|i| parts[i].as_ref().map_or(0, |r| r.model.state_len()));
        Ok(Band {
            parts,
            controls: [PartControls::default(); 3],
            song: SongContext::default(),
            primers: Default::default(),
            prelude: [[BOS_ID, u32::MAX]; 3],
            store: SongStore::new(max_bars, state_lens),
            seed,
            rng: mix(seed),
            key: None,
            started: false,
            bars: 0,
            stored_bars: 0,
            replay_buf: Box::new([0; MAX_TOKENS_PER_BAR]),
            conductor: None,
            host_form: Vec::new(),
            directions: neutral_directions(max_bars),
        })
    }

    pub fn song(&self) -> &SongContext {
        &self.song
    }

    /// Key, metre, tempo and chord track. Key and metre are fixed once the
    /// first bar is made (reset to change them); tempo and chords may change
    /// between bars. Nothing changes on error.
    pub fn set_song(&mut self, song: SongContext) -> Result<(), MuseError> {
        song.validate()?;
        let metre_changes = song.time_signature != self.song.time_signature;
        if self.started && (metre_changes || song.key != self.song.key) {
            return Err(MuseError::InvalidArgument(
                "key and time signature are set before the first bar (reset the band first)".into(),
            ));
        }
        if metre_changes && self.primers.iter().any(|p| !p.bars.is_empty()) {
            return Err(MuseError::InvalidArgument(
                "set the time signature before the primers (they are encoded in it)".into(),
            ));
        }
        for runner in self.parts.iter_mut().flatten().filter(|_| metre_changes) {
            runner.reset(song.time_signature);
        }
        self.song = song;
        Ok(())
    }

    /// Replaces the chord track (validated against the song's metre).
    pub fn set_chords(&mut self, chords: ChordTrack) -> Result<(), MuseError> {
        let song = SongContext {
            chords,
            ..self.song.clone()
        };
        self.set_song(song)
    }

    pub fn controls(&self, part: Part) -> PartControls {
        self.controls[part.index()]
    }

    /// Controls of `part`, from the next bar on.
    pub fn set_controls(&mut self, part: Part, controls: PartControls) -> Result<(), MuseError> {
        controls.validate()?;
        self.controls[part.index()] = controls;
        Ok(())
    }

    /// The part's first bars come from the host's clip (before the first bar).
    pub fn set_primer(&mut self, part: Part, primer: Primer) -> Result<(), MuseError> {
        if self.started {
            return Err(MuseError::InvalidArgument(
                "a primer is set before the first bar (reset the band first)".into(),
            ));
        }
        if primer.bars.len() > self.store.max_bars {
            return Err(MuseError::InvalidArgument(
                "the primer is longer than the song".into(),
            ));
        }
        if part == Part::Harmony && !primer.bars.is_empty() {
            return Err(MuseError::InvalidArgument(
                "harmony follows the chord track; prime drums or melody".into(),
            ));
        }
        self.primers[part.index()] = primer;
        Ok(())
    }

    /// Back to before the first bar; song, controls and primers are kept.
    pub fn reset(&mut self) {
        let metre = self.song.time_signature;
        for runner in self.parts.iter_mut().flatten() {
            runner.reset(metre);
        }
        self.rng = mix(self.seed);
        self.key = None;
        self.started = false;
        self.bars = 0;
        self.stored_bars = 0;
    }

    pub fn bars_generated(&self) -> u32 {
        self.bars
    }

    /// The song's key (given, or chosen at the first bar).
    pub fn key(&self) -> Option<Key> {
        self.key
    }

    pub fn max_bars(&self) -> usize {
        self.store.max_bars
    }

    /// Notes of a generated bar.
    pub fn bar_notes(&self, bar: u32) -> Option<BarNotes<'_>> {
        (bar < self.bars).then(|| self.store.bar_notes(bar as usize))
    }

    /// Every note generated so far, bar by bar.
    pub fn notes(&self) -> impl Iterator<Item = BandNote> + '_ {
        (0..self.bars).flat_map(|b| self.store.bar_notes(b as usize))
    }
}

impl<M: StepModel> Band<M> {
    /// The key the song is played in: the host's, else the one the chord
    /// track fits, else the melody primer's, else `None` (harmony picks).
    fn resolve_key(&self) -> Option<Key> {
        self.song
            .key
            .or_else(|| self.song.chords.likeliest_key())
            .or(self.primers[Part::Melody.index()].key)
    }

    /// Opens every part's stream: BOS, then the key (harmony samples it
    /// when nobody gave one).
    fn prelude(&mut self) -> Result<(), MuseError> {
        let mut key = self.resolve_key();
        let mut rng = self.rng;
        if let Some(h) = self.parts[Part::Harmony.index()].as_mut() {
            h.controls = self.controls[Part::Harmony.index()];
            h.feed_prelude(BOS_ID, None)?;
            let id = match key {
                Some(k) => h.id(Token::Key(k))?,
                None => h.sample(&mut rng, |t| matches!(t, Token::Key(_)), |_| 0.0)?,
            };
            h.feed_prelude(id, None)?;
            if let Some(Token::Key(k)) = h.grammar.vocabulary().token(id) {
                key = Some(k);
            }
            self.prelude[Part::Harmony.index()] = [BOS_ID, id];
        }
        let key = key.unwrap_or(Key::new(0, Mode::Major));
        if let Some(m) = self.parts[Part::Melody.index()].as_mut() {
            m.feed_prelude(BOS_ID, Some(key))?;
            let id = m.id(Token::ConditionKey(key))?;
            m.feed_prelude(id, Some(key))?;
            self.prelude[Part::Melody.index()] = [BOS_ID, id];
        }
        if let Some(d) = self.parts[Part::Drums.index()].as_mut() {
            d.feed_prelude(BOS_ID, None)?;
        }
        if let Some(c) = self.conductor.as_mut() {
            c.start()?;
        }
        self.rng = rng;
        self.key = Some(key);
        self.started = true;
        Ok(())
    }

    fn mark(&mut self, bar: usize) {
        let mut parts = [None; 3];
        for runner in self.parts.iter_mut().flatten() {
            parts[runner.part.index()] = Some(runner.save(&mut self.store, bar));
        }
        if let Some(c) = self.conductor.as_mut() {
            c.save(bar);
        }
        let mark = BarMark {
            rng: self.rng,
            key: self.key,
            parts,
        };
        self.store.set_mark(bar, mark);
    }

    /// Back to the bar line before `bar` (its snapshot must exist).
    fn restore(&mut self, bar: usize) -> Result<(), MuseError> {
        let mark = self
            .store
            .mark(bar)
            .ok_or_else(|| MuseError::InvalidArgument(format!("no snapshot at bar {bar}")))?;
        for runner in self.parts.iter_mut().flatten() {
            if let Some(m) = mark.parts[runner.part.index()] {
                runner.restore(&self.store, bar, m);
            }
        }
        if let Some(c) = self.conductor.as_mut() {
            c.restore(bar);
        }
        self.rng = mark.rng;
        self.key = mark.key;
        self.bars = bar as u32;
        Ok(())
    }

    /// Generates the next bar and returns its notes (kept in the band's
    /// storage until that bar is re-rolled or the band reset). After the
    /// first bar this allocates nothing. On error the band is as before.
    pub fn next_bar(&mut self) -> Result<BarNotes<'_>, MuseError> {
        let bar = self.bars as usize;
        if bar >= self.store.max_bars {
            return Err(MuseError::InvalidArgument(format!(
                "the song is full ({} bars): reset, or make the band with more bars",
                self.store.max_bars
            )));
        }
        if !self.started {
            if let Err(e) = self.prelude() {
                self.reset();
                return Err(e);
            }
        }
        self.mark(bar);
        if let Err(e) = self.generate_bar(bar as u32, true, false) {
            self.restore(bar)?;
            if bar == 0 {
                self.reset();
            }
            return Err(e);
        }
        self.bars += 1;
        self.stored_bars = self.stored_bars.max(self.bars);
        Ok(self.store.bar_notes(bar))
    }

    /// The chord track's chord on each beat of `bar` (`None`: a gap).
    fn plan(&self, bar: u32) -> [Option<ChordLabel>; BAR_BEATS] {
        let beats = self.song.time_signature.beats_per_bar();
        std::array::from_fn(|b| {
            (b < beats as usize)
                .then(|| self.song.chords.chord_at(bar, b as u32))
                .flatten()
        })
    }
}

impl<M: StepModel> Band<M> {
    /// One bar of every part: harmony, melody over its chords, drums.
    /// `emit`: render notes into the bar (false when replaying a kept bar);
    /// `replay_all`: every part replays its stored tokens.
    fn generate_bar(&mut self, bar: u32, emit: bool, replay_all: bool) -> Result<(), MuseError> {
        let direction = self.direct_bar(bar, replay_all)?;
        let plan = self.plan(bar);
        // With a chord track, harmony follows it (gaps filled in the key).
        let has_plan = !self.song.chords.is_empty();
        let metre = self.song.time_signature;
        let mut chords = [ChordLabel::NONE; BAR_BEATS];
        let mut rng = self.rng;
        if emit {
            self.store.clear_notes(bar as usize);
        }
        let Band {
            parts,
            controls,
            primers,
            store,
            replay_buf,
            stored_bars,
            key,
            ..
        } = self;
        for part in Part::ALL {
            let part_controls = direction.map_or(controls[part.index()], |d| {
                d.controls(part, controls[part.index()])
            });
            let Some(runner) = parts[part.index()].as_mut() else {
                if part == Part::Harmony {
                    play_plan(&plan, &mut chords, store, bar, metre, emit, &part_controls);
                }
                continue;
            };
            runner.controls = part_controls;
            let mut out = BarOutput {
                store: &mut *store,
                bar,
                emit,
                metre,
                key: *key,
                chords: &mut chords,
            };
            let kept = replay_all || (runner.controls.lock && bar < *stored_bars);
            let primed = primers[part.index()].bars.get(bar as usize).is_some();
            // A repeated section replays the bar it repeats (harmony over a
            // chord track follows the track).
            let repeated = direction
                .and_then(|d| d.source_for(part))
                .filter(|s| *s < bar && !primed && !(part == Part::Harmony && has_plan));
            if let Some(source) = kept.then_some(bar).or(repeated) {
                let skip = if part == Part::Melody { 2 } else { 1 };
                let slot = out.store.bar_tokens(source as usize, part);
                let n = slot.len().saturating_sub(skip);
                replay_buf[..n].copy_from_slice(&slot[skip.min(slot.len())..]);
                runner.replay(&replay_buf[..n], &mut out)?;
            } else if let Some(body) = primers[part.index()].bars.get(bar as usize) {
                runner.replay(body, &mut out)?;
            } else if part == Part::Harmony && has_plan {
                runner.plan_bar(&mut rng, &plan, &mut out)?;
            } else {
                runner.sample_bar(&mut rng, &mut out)?;
            }
        }
        if emit {
            store.sort_bar(bar as usize);
        }
        self.rng = rng;
        Ok(())
    }

    /// Regenerates bar `bar` with a new seed, keeping every bar before it
    /// (and, for [`Reroll::Bar`], every bar after it). Locked parts keep
    /// their bars. [`Reroll::Bar`] replays the following bars through the
    /// models, so it costs about as much as generating them: call it off the
    /// audio thread. Nothing changes on error.
    pub fn reroll(&mut self, bar: u32, seed: u64, scope: Reroll) -> Result<(), MuseError> {
        if bar >= self.bars {
            return Err(MuseError::InvalidArgument(format!(
                "bar {bar} is not generated yet ({} bars so far)",
                self.bars
            )));
        }
        let old_end = self.bars;
        self.restore(bar as usize)?;
        self.rng = mix(seed ^ (bar as u64).wrapping_mul(0x1000_0000_01b3));
        if scope == Reroll::FromBar {
            return Ok(());
        }
        // One bar's notes change; the song's form stays as planned.
        if let Some(c) = self.conductor.as_mut() {
            c.keep_plans_until = old_end as usize;
        }
        let result = self.reroll_one(bar, old_end);
        if let Some(c) = self.conductor.as_mut() {
            c.keep_plans_until = 0;
        }
        result
    }

    fn reroll_one(&mut self, bar: u32, old_end: u32) -> Result<(), MuseError> {
        if let Err(e) = self.next_bar() {
            self.bars = old_end;
            return Err(e);
        }
        for b in bar + 1..old_end {
            self.mark(b as usize);
            self.generate_bar(b, false, true)?;
            self.bars += 1;
        }
        Ok(())
    }

    /// The part's whole token stream so far (BOS … EOS), as the expert's
    /// tokenizer decodes it; empty for an absent part.
    pub fn part_tokens(&self, part: Part) -> Vec<u32> {
        if self.parts[part.index()].is_none() {
            return Vec::new();
        }
        let mut out: Vec<u32> = self.prelude[part.index()]
            .iter()
            .copied()
            .filter(|id| *id != u32::MAX)
            .collect();
        for b in 0..self.bars as usize {
            out.extend(self.store.bar_tokens(b, part).iter().map(|t| *t as u32));
        }
        out.push(EOS_ID);
        out
    }

    /// Everything generated so far as a type-1 MIDI file (drums, chords,
    /// melody) in the song's metre and tempo.
    pub fn midi_bytes(&self) -> Result<Vec<u8>, MuseError> {
        self.midi_bytes_at(self.song.bpm)
    }

    /// [`Band::midi_bytes`] at another tempo.
    pub fn midi_bytes_at(&self, bpm: f64) -> Result<Vec<u8>, MuseError> {
        let track = |name: &str, part: Part, program: Option<u8>| MidiTrackSpec {
            name: name.into(),
            channel: part.channel(),
            program,
            notes: self
                .notes()
                .filter(|n| n.channel == part.channel())
                .map(|n| MidiNote {
                    tick: n.tick as u64,
                    duration: n.duration as u64,
                    pitch: n.pitch,
                    velocity: n.velocity,
                    channel: n.channel,
                })
                .collect(),
        };
        let ts = self.song.time_signature;
        let spec = MidiSongSpec {
            ppq: TICKS_PER_QUARTER as u16,
            tempo_changes: vec![(0, bpm)],
            time_signatures: vec![(0, ts.numerator(), ts.denominator())],
            tracks: vec![
                track("Drums", Part::Drums, None),
                track("Chords", Part::Harmony, Some(0)),
                track("Melody", Part::Melody, Some(73)),
            ],
        };
        // The song's key (the host's, or the one chosen at the first bar).
        let key_signature: Vec<(u64, i8, bool)> = self
            .key
            .map(|k| (0, k.signature_sharps(), k.mode == Mode::Minor))
            .into_iter()
            .collect();
        write_smf_with_keys(&spec, &key_signature)
            .map_err(|e| MuseError::InvalidArgument(e.to_string()))
    }
}

/// Without a harmony expert the chord track is played as given (gaps stay
/// silent) and is what the melody follows.
fn play_plan(
    plan: &[Option<ChordLabel>; BAR_BEATS],
    chords: &mut [ChordLabel; BAR_BEATS],
    store: &mut SongStore,
    bar: u32,
    metre: TimeSignature,
    emit: bool,
    controls: &PartControls,
) {
    let beats = metre.beats_per_bar() as usize;
    let mut beat = 0;
    while beat < beats {
        let chord = plan[beat].unwrap_or(ChordLabel::NONE);
        let run = (beat..beats)
            .take_while(|b| plan[*b].unwrap_or(ChordLabel::NONE) == chord)
            .count();
        chords[beat..beat + run].fill(chord);
        if emit && !controls.mute {
            let event = DecodedEvent::Chord(ChordEvent {
                bar,
                beat: beat as u32,
                chord,
                hold_beats: run as u32,
            });
            render(event, Part::Harmony, bar, controls, metre, |n| {
                store.push_note(bar as usize, n);
            });
        }
        beat += run;
    }
}

impl<M: StepModel> Band<M> {
    /// Sets the Conductor expert (`None` removes it) before the first bar:
    /// from then on it shapes each bar's controls and repeats sections.
    pub fn set_conductor(&mut self, model: Option<M>) -> Result<(), MuseError> {
        if self.started {
            return Err(MuseError::InvalidArgument(
                "the conductor is set before the first bar (reset the band first)".into(),
            ));
        }
        self.conductor = match model {
            Some(m) => Some(ConductorRunner::new(m, self.store.max_bars)?),
            None => None,
        };
        Ok(())
    }

    /// The host's form, e.g. "intro:4 verse:8 chorus:8 verse:8 chorus:8
    /// outro:4" (see [`super::parse_form`]); it overrides the Conductor and
    /// plays again from its start when the song outlasts it. "" clears it.
    pub fn set_form(&mut self, form: &str) -> Result<(), MuseError> {
        if self.started {
            return Err(MuseError::InvalidArgument(
                "the form is set before the first bar (reset the band first)".into(),
            ));
        }
        self.host_form = if form.trim().is_empty() {
            Vec::new()
        } else {
            super::parse_form(form)?
        };
        Ok(())
    }

    /// Sampling options of the Conductor expert.
    pub fn set_conductor_sampling(&mut self, sampling: crate::runtime::SamplingOptions) {
        if let Some(c) = self.conductor.as_mut() {
            c.sampling = sampling;
        }
    }

    /// What bar `bar` was told (None without a Conductor or host form).
    pub fn direction(&self, bar: u32) -> Option<Direction> {
        let directed = self.conductor.is_some() || !self.host_form.is_empty();
        (directed && bar < self.bars).then(|| self.directions[bar as usize])
    }

    /// The Conductor's token stream so far (BOS … EOS); empty without one.
    pub fn conductor_tokens(&self) -> Vec<u32> {
        let Some(c) = self.conductor.as_ref() else {
            return Vec::new();
        };
        let mut out = vec![BOS_ID];
        for b in 0..self.bars as usize {
            out.extend(c.bar_tokens(b).iter().map(|t| *t as u32));
        }
        out.push(EOS_ID);
        out
    }

    /// Plans bar `bar` (host form, else the Conductor: sampled, or its
    /// stored tokens replayed) and returns its direction.
    fn direct_bar(&mut self, bar: u32, replay: bool) -> Result<Option<Direction>, MuseError> {
        let b = bar as usize;
        let label = b
            .checked_sub(1)
            .map_or(0, |p| self.directions[p].plan.label);
        let plan = if !self.host_form.is_empty() {
            self.host_form[b % self.host_form.len()]
        } else if let Some(c) = self.conductor.as_mut() {
            c.plan_bar(b, &mut self.rng, replay)?;
            c.decoded(b, label)
        } else {
            return Ok(None);
        };
        self.directions[b] = direct(bar, plan, &self.directions[..b]);
        Ok(Some(self.directions[b]))
    }
}
