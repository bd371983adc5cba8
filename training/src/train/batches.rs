//! Song-level train/validation split, fixed-length windows and batches.

use candle_core::{Device, Tensor};

use crate::corpus::SplitMix64;
use nomad_muse::tokenizers::{DrumsTokenizer, EncodedSequence, ExpertKind, PAD_ID};

/// `seq_len + 1` tokens of one song (padded), with conditioning and labels.
#[derive(Debug, Clone)]
pub struct Window {
    pub tokens: Vec<u32>,
    pub chord: Vec<u32>,
    pub key: Vec<u32>,
    pub groove: Vec<f32>,
    /// 0 for targets that are not scored (padding, keys the expert is given).
    pub scored: Vec<f32>,
}

impl Window {
    pub fn targets(&self) -> &[u32] {
        &self.tokens[1..]
    }

    pub fn target_mask(&self) -> Vec<f32> {
        self.scored[1..].to_vec()
    }
}

/// Songs by name with their token sequences.
pub type Songs = Vec<(String, EncodedSequence)>;

/// Splits songs into (train, validation) by song, never by window.
pub fn split_by_song(
    songs: &[(String, EncodedSequence)],
    val_fraction: f64,
    seed: u64,
) -> (Songs, Songs) {
    let mut order: Vec<usize> = (0..songs.len()).collect();
    let mut rng = SplitMix64::new(seed ^ 0x5eed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let n_val = ((songs.len() as f64 * val_fraction).round() as usize)
        .clamp(1, songs.len().saturating_sub(1).max(1));
    let val = order[..n_val].iter().map(|i| songs[*i].clone()).collect();
    let train = order[n_val..].iter().map(|i| songs[*i].clone()).collect();
    (train, val)
}

/// Windows of `seq_len + 1` tokens every `stride` tokens.
pub fn make_windows(
    songs: &[(String, EncodedSequence)],
    expert: ExpertKind,
    seq_len: usize,
    stride: usize,
    unscored: &[u32],
) -> Vec<Window> {
    let drums = DrumsTokenizer::new();
    let mut out = Vec::new();
    for (_, seq) in songs {
        let n = seq.tokens.len();
        if n < 2 {
            continue;
        }
        let groove: Vec<u8> = if expert == ExpertKind::Drums {
            drums.groove_labels(&seq.tokens)
        } else {
            vec![0; n]
        };
        let mut start = 0;
        loop {
            let end = (start + seq_len + 1).min(n);
            let pad = seq_len + 1 - (end - start);
            let take = |v: &[u32]| -> Vec<u32> {
                let mut w: Vec<u32> = if v.len() == n {
                    v[start..end].to_vec()
                } else {
                    vec![0; end - start]
                };
                w.extend(std::iter::repeat_n(0, pad));
                w
            };
            let mut tokens = seq.tokens[start..end].to_vec();
            tokens.extend(std::iter::repeat_n(PAD_ID, pad));
            let scored = tokens
                .iter()
                .map(|t| {
                    if *t == PAD_ID || unscored.contains(t) {
                        0.0
                    } else {
                        1.0
                    }
                })
                .collect();
            let mut g: Vec<f32> = groove[start..end].iter().map(|x| *x as f32).collect();
            g.extend(std::iter::repeat_n(0.0, pad));
            out.push(Window {
                tokens,
                chord: take(&seq.chord_cond),
                key: take(&seq.key_cond),
                groove: g,
                scored,
            });
            if end == n {
                break;
            }
            start += stride.max(1);
        }
    }
    out
}

/// Tensors of a batch of windows.
pub struct Batch {
    /// [B, T] u32
    pub inputs: Tensor,
    pub targets: Tensor,
    pub chord: Tensor,
    pub key: Tensor,
    /// [B, T] f32: 1 where the target is scored.
    pub mask: Tensor,
    /// [B, T] f32: 1 where the input is a real token (groove loss).
    pub input_mask: Tensor,
    pub groove: Option<Tensor>,
}

impl Batch {
    pub fn new(windows: &[Window], expert: ExpertKind) -> candle_core::Result<Self> {
        let b = windows.len();
        let t = windows.first().map_or(0, |w| w.tokens.len() - 1);
        let dev = Device::Cpu;
        let gather_u32 = |f: &dyn Fn(&Window) -> &[u32]| -> candle_core::Result<Tensor> {
            let data: Vec<u32> = windows.iter().flat_map(|w| f(w).iter().copied()).collect();
            Tensor::from_vec(data, (b, t), &dev)
        };
        let gather_f32 = |f: &dyn Fn(&Window) -> Vec<f32>| -> candle_core::Result<Tensor> {
            let data: Vec<f32> = windows.iter().flat_map(f).collect();
            Tensor::from_vec(data, (b, t), &dev)
        };
        Ok(Batch {
            inputs: gather_u32(&|w| &w.tokens[..t])?,
            targets: gather_u32(&|w| &w.tokens[1..])?,
            chord: gather_u32(&|w| &w.chord[..t])?,
            key: gather_u32(&|w| &w.key[..t])?,
            mask: gather_f32(&|w| w.scored[1..].to_vec())?,
            input_mask: gather_f32(&|w| {
                w.tokens[..t]
                    .iter()
                    .map(|x| if *x == PAD_ID { 0.0 } else { 1.0 })
                    .collect()
            })?,
            groove: if expert == ExpertKind::Drums {
                Some(gather_f32(&|w| w.groove[..t].to_vec())?)
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn songs(n: usize) -> Vec<(String, EncodedSequence)> {
        (0..n)
            .map(|i| {
                (
                    format!("s{i}"),
                    EncodedSequence {
                        tokens: (1..30).collect(),
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn split_is_by_song_and_deterministic() {
        let s = songs(20);
        let (train, val) = split_by_song(&s, 0.2, 7);
        assert_eq!((train.len(), val.len()), (16, 4));
        assert!(val.iter().all(|(n, _)| !train.iter().any(|(m, _)| m == n)));
        assert_eq!(
            split_by_song(&s, 0.2, 7)
                .1
                .iter()
                .map(|x| &x.0)
                .collect::<Vec<_>>(),
            val.iter().map(|x| &x.0).collect::<Vec<_>>()
        );
    }

    #[test]
    fn windows_cover_songs_and_pad() {
        let w = make_windows(&songs(1), ExpertKind::Harmony, 10, 10, &[]);
        // 29 tokens: windows start at 0, 10, 20 (the last padded).
        assert_eq!(w.len(), 3);
        assert_eq!(w[2].tokens[..9], (21..30).collect::<Vec<u32>>()[..]);
        assert_eq!(w[2].tokens[9..], [PAD_ID, PAD_ID]);
        assert_eq!(w[2].target_mask().iter().sum::<f32>(), 8.0);
    }
}
