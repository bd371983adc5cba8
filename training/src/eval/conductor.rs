//! Report-card metrics of the Conductor: how its plans repeat sections,
//! move energy and use the parts, on the same footing as real songs' forms.

use nomad_muse::tokenizers::{ConductorBar, SectionStart, DENSITY_LEVELS, DENSITY_PARTS};

/// Per-section mean energies, in order.
fn section_energies(plan: &[ConductorBar]) -> Vec<f64> {
    let mut out: Vec<(f64, usize)> = Vec::new();
    for bar in plan {
        if bar.section_bar == 0 || out.is_empty() {
            out.push((0.0, 0));
        }
        if let Some(last) = out.last_mut() {
            last.0 += bar.energy as f64;
            last.1 += 1;
        }
    }
    out.into_iter().map(|(e, n)| e / n.max(1) as f64).collect()
}

/// Share of sections (after the first) that repeat or vary an earlier one.
pub fn section_repetition(plan: &[ConductorBar]) -> f64 {
    let starts: Vec<Option<SectionStart>> = plan
        .iter()
        .filter(|b| b.section_bar == 0)
        .map(|b| b.start)
        .collect();
    if starts.len() < 2 {
        return 0.0;
    }
    let repeats = starts[1..]
        .iter()
        .filter(|s| matches!(s, Some(SectionStart::Repeat | SectionStart::Vary)))
        .count();
    repeats as f64 / (starts.len() - 1) as f64
}

/// The energy arc: mean change of energy from one section to the next (0 a
/// flat song; real songs build and drop).
pub fn energy_arc(plan: &[ConductorBar]) -> f64 {
    let e = section_energies(plan);
    if e.len() < 2 {
        return 0.0;
    }
    e.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (e.len() - 1) as f64
}

/// The energy range: loudest section's mean energy minus the quietest's.
pub fn energy_range(plan: &[ConductorBar]) -> f64 {
    let e = section_energies(plan);
    let max = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = e.iter().copied().fold(f64::INFINITY, f64::min);
    if e.is_empty() {
        0.0
    } else {
        max - min
    }
}

pub fn sections_per_16_bars(plan: &[ConductorBar], bars: u32) -> f64 {
    let n = plan.iter().filter(|b| b.section_bar == 0).count();
    n as f64 * 16.0 / bars.max(1) as f64
}

pub fn fills_per_8_bars(plan: &[ConductorBar], bars: u32) -> f64 {
    plan.iter().filter(|b| b.fill).count() as f64 * 8.0 / bars.max(1) as f64
}

/// Part-density histogram: for each part (drums, bass, melody, harmony) the
/// share of bars at each density level (0 = resting), concatenated and
/// scaled to sum to 1 (so histogram intersection is in [0, 1]).
pub fn part_density_histogram(plan: &[ConductorBar]) -> Vec<f64> {
    let levels = DENSITY_LEVELS as usize;
    let mut h = vec![0.0; DENSITY_PARTS as usize * levels];
    for bar in plan {
        for (p, d) in bar.density.iter().enumerate() {
            h[p * levels + (*d as usize).min(levels - 1)] += 1.0;
        }
    }
    let n = (plan.len() * DENSITY_PARTS as usize).max(1) as f64;
    h.iter_mut().for_each(|x| *x /= n);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(section_bar: u32, label: u8, start: Option<SectionStart>, energy: u8) -> ConductorBar {
        ConductorBar {
            section_bar,
            label,
            start,
            energy,
            density: [0, 1, 2, 3],
            fill: false,
        }
    }

    /// A B A: sections of 2 bars at energies 1, 3, 2.
    fn plan() -> Vec<ConductorBar> {
        vec![
            bar(0, 0, Some(SectionStart::New), 1),
            bar(1, 0, None, 1),
            bar(0, 1, Some(SectionStart::New), 3),
            bar(1, 1, None, 3),
            bar(0, 0, Some(SectionStart::Repeat), 2),
            bar(1, 0, None, 2),
        ]
    }

    #[test]
    fn form_metrics_read_the_plan() {
        let p = plan();
        assert!((section_repetition(&p) - 0.5).abs() < 1e-9);
        assert!((energy_arc(&p) - 1.5).abs() < 1e-9);
        assert!((energy_range(&p) - 2.0).abs() < 1e-9);
        assert!((sections_per_16_bars(&p, 6) - 8.0).abs() < 1e-9);
        let h = part_density_histogram(&p);
        assert_eq!(h.len(), 16);
        assert_eq!((h[0], h[5], h[10], h[15]), (0.25, 0.25, 0.25, 0.25));
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(section_repetition(&p[..2]), 0.0);
    }
}
