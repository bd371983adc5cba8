//! Grammar masks as bitsets, one per grammar state met: the first time a
//! state is seen its mask is computed by the grammar (the one definition
//! of what may follow) and kept; every later visit copies bits. The table
//! is allocated when made and never grows: once full, new states are
//! computed each time (correct, just slower).

use crate::tokenizers::Grammar;

/// Slots of the table (a power of two); a stream meets a few dozen states.
const SLOTS: usize = 512;
/// Fill the table at most this far (linear probing stays short).
const MAX_FILLED: usize = SLOTS * 3 / 4;
const EMPTY: u64 = u64::MAX;

#[derive(Debug, Clone)]
pub struct MaskCache {
    words: usize,
    keys: Vec<u64>,
    bits: Vec<u64>,
    filled: usize,
}

fn slot_of(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & (SLOTS - 1)
}

impl MaskCache {
    pub fn new(vocab_size: usize) -> Self {
        let words = vocab_size.div_ceil(64);
        MaskCache {
            words,
            keys: vec![EMPTY; SLOTS],
            bits: vec![0; SLOTS * words],
            filled: 0,
        }
    }

    /// `allowed[id]` = whether the grammar lets token `id` come next.
    pub fn allowed_mask(&mut self, grammar: &Grammar, allowed: &mut [bool]) {
        let Some(key) = grammar
            .mask_key()
            .filter(|_| allowed.len() <= self.words * 64)
        else {
            return grammar.allowed_mask(allowed);
        };
        let mut slot = slot_of(key);
        loop {
            match self.keys[slot] {
                k if k == key => {
                    // Set bits only: a grammar state allows a few tokens.
                    allowed.fill(false);
                    let bits = &self.bits[slot * self.words..(slot + 1) * self.words];
                    for (w, word) in bits.iter().enumerate() {
                        let mut rest = *word;
                        while rest != 0 {
                            allowed[w * 64 + rest.trailing_zeros() as usize] = true;
                            rest &= rest - 1;
                        }
                    }
                    return;
                }
                EMPTY => break,
                _ => slot = (slot + 1) & (SLOTS - 1),
            }
        }
        grammar.allowed_mask(allowed);
        if self.filled < MAX_FILLED {
            self.keys[slot] = key;
            self.filled += 1;
            let bits = &mut self.bits[slot * self.words..(slot + 1) * self.words];
            bits.fill(0);
            for (i, a) in allowed.iter().enumerate() {
                bits[i / 64] |= u64::from(*a) << (i % 64);
            }
        }
    }

    /// Grammar states held.
    pub fn len(&self) -> usize {
        self.filled
    }

    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizers::ExpertKind;

    /// Along random grammar-valid streams of every expert, the cached mask
    /// is the grammar's own, and the cache does fill (it is used).
    #[test]
    fn cached_masks_are_the_grammars_masks() {
        for expert in ExpertKind::ALL {
            let mut grammar = Grammar::new(expert).with_bar_steps(16);
            let n = grammar.vocabulary().len();
            let mut cache = MaskCache::new(n);
            let (mut cached, mut direct) = (vec![false; n], vec![false; n]);
            let mut rng = 0x2545_f491u64;
            for _ in 0..5000 {
                cache.allowed_mask(&grammar, &mut cached);
                grammar.allowed_mask(&mut direct);
                assert_eq!(cached, direct, "{expert:?}");
                let ids: Vec<u32> = (0..n as u32).filter(|i| direct[*i as usize]).collect();
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                match ids.get(rng as usize % ids.len().max(1)) {
                    Some(id) if *id != crate::tokenizers::EOS_ID => grammar.advance(*id).unwrap(),
                    _ => grammar.reset(),
                }
            }
            assert!(cache.len() > 10, "{expert:?}: {} states", cache.len());
        }
    }
}
