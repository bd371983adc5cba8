//! The report card: rows of real vs generated vs random-baseline figures,
//! health checks with pass/warn/fail verdicts, written as JSON and Markdown.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::calibration::RealSplit;
use super::metrics::{histogram_intersection, overlap_area};
use super::{SetScores, COPIED_8GRAMS, LONGEST_COMMON, NEAREST_JACCARD};
use crate::config::EvalConfig;
use nomad_muse::tokenizers::ExpertKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One per-piece metric: means of each set and the overlap areas of the
/// generated and random distributions with the real one.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    pub metric: String,
    pub real: f64,
    pub generated: f64,
    pub random: f64,
    pub overlap_generated: f64,
    pub overlap_random: f64,
    /// Memorization rows are excluded from the fidelity check.
    pub memorization: bool,
}

/// A pooled histogram of each set, with the intersections Σ min(p, q).
#[derive(Debug, Clone, Serialize)]
pub struct DistributionRow {
    pub metric: String,
    pub real: Vec<f64>,
    pub generated: Vec<f64>,
    pub random: Vec<f64>,
    pub intersection_generated: f64,
    pub intersection_random: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub rule: String,
    pub generated: f64,
    pub generated_verdict: Verdict,
    pub random: f64,
    pub random_verdict: Verdict,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct SetSizes {
    pub train_songs: usize,
    pub val_pieces: usize,
    pub samples: usize,
    pub bars: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpertCard {
    pub expert: String,
    pub verdict: Verdict,
    pub random_baseline_verdict: Verdict,
    pub sizes: SetSizes,
    pub metrics: Vec<MetricRow>,
    pub distributions: Vec<DistributionRow>,
    pub distinct_4: [f64; 3],
    /// Melody: chord-tone ratio with pitches drawn from the training unigram.
    pub unigram_chord_tone_baseline: Option<f64>,
    pub checks: Vec<Check>,
    pub sample_files: Vec<String>,
    /// The checks run on real music alone (half the validation songs
    /// against the other half): what says the card can be trusted here.
    pub real_split: Option<RealSplit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportCard {
    pub seed: u64,
    pub samples: usize,
    pub bars: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub experts: Vec<ExpertCard>,
}

fn is_memorization(name: &str) -> bool {
    [COPIED_8GRAMS, LONGEST_COMMON, NEAREST_JACCARD].contains(&name)
}

/// Health checks of one candidate set (generated or random) against the
/// real set; returns (name, rule, value, verdict) per check.
pub fn health_checks(
    expert: ExpertKind,
    real: &SetScores,
    candidate: &SetScores,
    chord_tone_baseline: Option<f64>,
    cfg: &EvalConfig,
) -> Vec<(String, String, f64, Verdict)> {
    let mut out = Vec::new();
    let overlaps: Vec<f64> = real
        .per_piece
        .iter()
        .filter(|(n, _)| !is_memorization(n))
        .map(|(n, v)| overlap_area(v, candidate.values(n)))
        .collect();
    let fidelity = overlaps.iter().sum::<f64>() / overlaps.len().max(1) as f64;
    out.push((
        "fidelity".into(),
        format!(
            "mean overlap area with real: pass >= {}, fail < {}",
            cfg.overlap_pass, cfg.overlap_fail
        ),
        fidelity,
        if fidelity >= cfg.overlap_pass {
            Verdict::Pass
        } else if fidelity >= cfg.overlap_fail {
            Verdict::Warn
        } else {
            Verdict::Fail
        },
    ));

    // Real held-out music shares n-grams with training too (grooves and
    // progressions repeat): the limit is calibrated on it.
    // A form plan is a few tokens a bar from a small vocabulary: real songs
    // share nearly every 8-gram with training (0.99 on POP909), so for the
    // Conductor only a copied run much longer than real music's counts
    // (the share check failed real plans against real plans).
    let real_copied = real.mean(COPIED_8GRAMS);
    let limit = if expert == ExpertKind::Conductor {
        1.0
    } else {
        cfg.max_copied_8gram_share
            .max(real_copied + cfg.copy_gap_share * (1.0 - real_copied))
    };
    let copied = candidate.mean(COPIED_8GRAMS);
    let longest_limit = cfg.max_longest_common_ratio * real.mean(LONGEST_COMMON).max(8.0);
    let longest = candidate.mean(LONGEST_COMMON);
    let rule = if expert == ExpertKind::Conductor {
        format!(
            "8-grams copied from training (not judged: real plans share {real_copied:.3}); \
             fail when the mean longest shared run > {longest_limit:.0} tokens ({} x real)",
            cfg.max_longest_common_ratio
        )
    } else {
        format!(
            "8-grams copied from training: fail > {limit:.3} = max({}, real {:.3} + {:.2} x (1 - real)), \
             or mean longest shared run > {longest_limit:.0} tokens ({} x real)",
            cfg.max_copied_8gram_share,
            real_copied,
            cfg.copy_gap_share,
            cfg.max_longest_common_ratio
        )
    };
    out.push((
        "memorization".into(),
        rule,
        copied,
        if copied > limit || longest > longest_limit {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
    ));

    let floor = cfg.min_distinct_ratio * real.distinct_4;
    out.push((
        "diversity".into(),
        format!(
            "distinct-4 over samples: warn < {floor:.3} ({} x real)",
            cfg.min_distinct_ratio
        ),
        candidate.distinct_4,
        if candidate.distinct_4 >= floor {
            Verdict::Pass
        } else {
            Verdict::Warn
        },
    ));

    match expert {
        ExpertKind::Harmony => {
            let k = candidate.mean("key consistency");
            out.push((
                "key consistency".into(),
                format!(
                    "share of chord beats diatonic: fail < {}",
                    cfg.min_key_consistency
                ),
                k,
                if k >= cfg.min_key_consistency {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
            ));
        }
        ExpertKind::Melody => {
            let base = chord_tone_baseline.unwrap_or(0.0);
            let r = candidate.mean("chord-tone ratio");
            out.push((
                "chord tones".into(),
                format!(
                    "chord-tone ratio vs unigram-pitch baseline {base:.3}: fail below it, pass >= +{}",
                    cfg.chord_tone_margin
                ),
                r,
                if r >= base + cfg.chord_tone_margin {
                    Verdict::Pass
                } else if r >= base {
                    Verdict::Warn
                } else {
                    Verdict::Fail
                },
            ));
        }
        ExpertKind::Drums | ExpertKind::Conductor => {}
    }
    out
}

/// Assembles one expert's card from the scores of [real, generated, random].
pub fn expert_card(
    expert: ExpertKind,
    scores: &[SetScores; 3],
    chord_tone_baseline: Option<f64>,
    cfg: &EvalConfig,
    sizes: SetSizes,
    sample_files: Vec<String>,
) -> ExpertCard {
    let [real, generated, random] = scores;
    let metrics = real
        .per_piece
        .iter()
        .map(|(name, values)| MetricRow {
            metric: name.to_string(),
            real: real.mean(name),
            generated: generated.mean(name),
            random: random.mean(name),
            overlap_generated: overlap_area(values, generated.values(name)),
            overlap_random: overlap_area(values, random.values(name)),
            memorization: is_memorization(name),
        })
        .collect();
    let distributions = real
        .distributions
        .iter()
        .map(|(name, r)| {
            let find = |s: &SetScores| {
                s.distributions
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, h)| h.clone())
                    .unwrap_or_default()
            };
            let (g, x) = (find(generated), find(random));
            DistributionRow {
                metric: name.to_string(),
                intersection_generated: histogram_intersection(r, &g),
                intersection_random: histogram_intersection(r, &x),
                real: r.clone(),
                generated: g,
                random: x,
            }
        })
        .collect();
    let gen_checks = health_checks(expert, real, generated, chord_tone_baseline, cfg);
    let rnd_checks = health_checks(expert, real, random, chord_tone_baseline, cfg);
    let checks: Vec<Check> = gen_checks
        .into_iter()
        .zip(rnd_checks)
        .map(|((name, rule, g, gv), (_, _, r, rv))| Check {
            name,
            rule,
            generated: g,
            generated_verdict: gv,
            random: r,
            random_verdict: rv,
        })
        .collect();
    ExpertCard {
        expert: expert.name().to_string(),
        verdict: checks
            .iter()
            .map(|c| c.generated_verdict)
            .max()
            .unwrap_or(Verdict::Pass),
        random_baseline_verdict: checks
            .iter()
            .map(|c| c.random_verdict)
            .max()
            .unwrap_or(Verdict::Pass),
        sizes,
        metrics,
        distributions,
        distinct_4: [real.distinct_4, generated.distinct_4, random.distinct_4],
        unigram_chord_tone_baseline: chord_tone_baseline,
        checks,
        sample_files,
        real_split: None,
    }
}

/// The calibration in one line: the card's checks on real music alone.
fn calibration_line(c: &ExpertCard) -> String {
    match &c.real_split {
        None => "Calibration (real songs, one half scored against the other): too few \
                 validation songs to split."
            .to_string(),
        Some(r) => format!(
            "Calibration (real songs, one half scored against the other; {} vs {} windows): {} — {}.",
            r.pieces[0],
            r.pieces[1],
            r.verdict.label(),
            r.checks
                .iter()
                .map(|k| format!("{} {:.3} {}", k.name, k.value, k.verdict.label()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl ReportCard {
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Muse Student Report Card\n");
        let _ = writeln!(
            s,
            "{} samples x {} bars per expert (seed {}, temperature {}, top-p {}). \
             *real* = windows of the same length across the held-out validation songs (phrase-aligned, \
             where the part plays in at least half the bars; counts per 4 beats); *random* = \
             uniform over the tokens the grammar allows. Overlap = area shared by the \
             per-piece distributions of real and generated (Yang & Lerch 2018); 1 is identical.\n",
            self.samples, self.bars, self.seed, self.temperature, self.top_p
        );
        let _ = writeln!(
            s,
            "| expert | verdict | random-token baseline |\n|---|---|---|"
        );
        for c in &self.experts {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                c.expert,
                c.verdict.label(),
                c.random_baseline_verdict.label()
            );
        }
        for c in &self.experts {
            let _ = writeln!(
                s,
                "\n## {} — {}\n\n{} training songs, {} validation pieces, {} samples of {} bars.\n",
                c.expert,
                c.verdict.label(),
                c.sizes.train_songs,
                c.sizes.val_pieces,
                c.sizes.samples,
                c.sizes.bars
            );
            let _ = writeln!(
                s,
                "| metric | real | generated | random | overlap gen | overlap random |\n|---|---:|---:|---:|---:|---:|"
            );
            for m in &c.metrics {
                let _ = writeln!(
                    s,
                    "| {} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} |",
                    m.metric, m.real, m.generated, m.random, m.overlap_generated, m.overlap_random
                );
            }
            let _ = writeln!(
                s,
                "| distinct-4 (set) | {:.3} | {:.3} | {:.3} | | |",
                c.distinct_4[0], c.distinct_4[1], c.distinct_4[2]
            );
            for d in &c.distributions {
                let _ = writeln!(
                    s,
                    "| {} (histogram intersection) | 1 | {:.2} | {:.2} | | |",
                    d.metric, d.intersection_generated, d.intersection_random
                );
            }
            let _ = writeln!(
                s,
                "\n| check | generated | verdict | random | verdict | rule |\n|---|---:|---|---:|---|---|"
            );
            for k in &c.checks {
                let _ = writeln!(
                    s,
                    "| {} | {:.3} | {} | {:.3} | {} | {} |",
                    k.name,
                    k.generated,
                    k.generated_verdict.label(),
                    k.random,
                    k.random_verdict.label(),
                    k.rule
                );
            }
            let _ = writeln!(s, "\n{}", calibration_line(c));
        }
        s
    }

    /// Writes `report_card.json` and `report_card.md` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join("report_card.json");
        std::fs::write(&json, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", json.display()))?;
        let md = dir.join("report_card.md");
        std::fs::write(&md, self.to_markdown())
            .with_context(|| format!("writing {}", md.display()))?;
        Ok(())
    }

    /// One line per expert: verdicts and the headline figures.
    pub fn summary(&self) -> String {
        self.experts
            .iter()
            .map(|c| {
                let fidelity = c.checks.iter().find(|k| k.name == "fidelity");
                format!(
                    "{} {} (fidelity {:.2} vs random {:.2}; random baseline {}; real vs real {})",
                    c.expert,
                    c.verdict.label(),
                    fidelity.map_or(0.0, |k| k.generated),
                    fidelity.map_or(0.0, |k| k.random),
                    c.random_baseline_verdict.label(),
                    c.real_split.as_ref().map_or("n/a", |r| r.verdict.label())
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
