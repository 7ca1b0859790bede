//! A fast hasher for the policy's lookup tables.
//!
//! Those tables are built once from the policy and only looked up with
//! record text, so their layout is fixed by the policy: a record can
//! neither grow them nor add collisions beyond those the policy's own keys
//! have. SipHash's defence against crafted keys buys nothing there, and its
//! cost per short key (codes, systems, element names) is a visible share of
//! redaction. Tables whose keys come from the record keep the standard
//! library's hasher.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hash of 8-byte words (the scheme `rustc` uses).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last.iter_mut().zip(rest).for_each(|(d, s)| *d = *s);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_find_what_was_put_in_and_nothing_else() {
        let keys: Vec<String> = (0..2000).map(|i| format!("C{i:05}.")).collect();
        let set: FastSet<&str> = keys.iter().map(String::as_str).collect();
        assert_eq!(set.len(), keys.len());
        assert!(keys.iter().all(|k| set.contains(k.as_str())));
        assert!(!set.contains("C99999."));
        assert!(!set.contains(""));
        let mut h = (FastHasher::default(), FastHasher::default());
        h.0.write(b"abcdefgh1");
        h.1.write(b"abcdefgh2");
        assert_ne!(h.0.finish(), h.1.finish());
    }
}
