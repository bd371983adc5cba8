//! Registry of live handles, so a freed or foreign pointer is an error code
//! instead of undefined behaviour.

use std::collections::HashSet;
use std::sync::Mutex;

pub struct Registry(Mutex<Option<HashSet<usize>>>);

impl Registry {
    pub const fn new() -> Self {
        Registry(Mutex::new(None))
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashSet<usize>) -> R) -> R {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(guard.get_or_insert_with(HashSet::new))
    }

    pub fn insert(&self, p: usize) {
        self.with(|s| s.insert(p));
    }

    pub fn remove(&self, p: usize) -> bool {
        self.with(|s| s.remove(&p))
    }

    pub fn contains(&self, p: usize) -> bool {
        self.with(|s| s.contains(&p))
    }
}
