//! Values numbered in order of first use, kept once.
//!
//! The read model and the store's stream index hold millions of references to a much
//! smaller set of values (members, units, streams, place names). An [`Interner`] keeps
//! each value once in a list and its number in a hash table of bare `u32`s, hashed
//! through the list: no value is stored twice, and a table slot is 4 bytes.

use std::fmt;
use std::hash::{BuildHasher, Hash};

use hashbrown::{DefaultHashBuilder, HashTable};
use serde::{Deserialize, Serialize};

/// Numbers follow first use, so the same sequence of values always gives the same
/// numbering (and the same encoding). Encodes as the list of values.
#[derive(Clone)]
pub struct Interner<T> {
    items: Vec<T>,
    numbers: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Self { items: Vec::new(), numbers: HashTable::new(), hasher: DefaultHashBuilder::default() }
    }
}

impl<T: Hash + Eq + Clone> Interner<T> {
    /// The number of `item`, given one if it has none yet.
    pub fn intern(&mut self, item: &T) -> u32 {
        let hash = self.hasher.hash_one(item);
        let items = &mut self.items;
        if let Some(&n) = self.numbers.find(hash, |&n| items[n as usize] == *item) {
            return n;
        }
        let n = u32::try_from(items.len()).expect("fewer than 2^32 distinct values");
        items.push(item.clone());
        let hasher = &self.hasher;
        self.numbers.insert_unique(hash, n, |&m| hasher.hash_one(&items[m as usize]));
        n
    }

    /// The number of `item`, if it has one.
    pub fn number(&self, item: &T) -> Option<u32> {
        let hash = self.hasher.hash_one(item);
        self.numbers.find(hash, |&n| self.items[n as usize] == *item).copied()
    }
}

impl<T> Interner<T> {
    /// The value numbered `number`.
    ///
    /// # Panics
    /// If no value has that number: numbers come only from [`Interner::intern`].
    pub fn get(&self, number: u32) -> &T {
        &self.items[number as usize]
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<T: PartialEq> PartialEq for Interner<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items // the table follows from the list
    }
}

impl<T: Eq> Eq for Interner<T> {}

impl<T: fmt::Debug> fmt::Debug for Interner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

impl<T: Serialize> Serialize for Interner<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

impl<'de, T: Deserialize<'de> + Hash + Eq + Clone> Deserialize<'de> for Interner<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut interner = Interner::default();
        for item in Vec::<T>::deserialize(d)? {
            interner.intern(&item);
        }
        Ok(interner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_first_use_and_survive_encoding() {
        let mut names = Interner::default();
        let a = names.intern(&"茅箭区".to_string());
        let b = names.intern(&"张湾区".to_string());
        assert_eq!((a, b, names.intern(&"茅箭区".to_string())), (0, 1, 0));
        assert_eq!(names.number(&"郧阳区".to_string()), None);
        assert_eq!(names.get(b), "张湾区");
        let json = serde_json::to_string(&names).unwrap();
        assert_eq!(json, r#"["茅箭区","张湾区"]"#);
        let back: Interner<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, names);
        assert_eq!(back.number(&"张湾区".to_string()), Some(1));
    }

    #[test]
    fn many_values_keep_their_numbers() {
        let mut numbers = Interner::default();
        for i in 0..100_000u64 {
            assert_eq!(numbers.intern(&(i * 7919)), i as u32);
        }
        assert!((0..100_000u64).all(|i| numbers.number(&(i * 7919)) == Some(i as u32)));
        assert_eq!(numbers.len(), 100_000);
    }
}
