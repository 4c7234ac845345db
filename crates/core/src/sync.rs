//! Locks that outlive a panic. Every state reader-core and the models keep behind a mutex —
//! queues, flags, slots, the count of a stuck call, a sender — stays consistent whatever
//! panicked while holding it, so a poisoned lock is taken as it is rather than spreading the
//! panic to every thread that shares it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, whatever a thread that panicked holding it left in it.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let shared = Arc::new(Mutex::new(1));
/// let held = Arc::clone(&shared);
/// let _ = std::thread::spawn(move || {
///     let _guard = held.lock();
///     panic!("while holding it");
/// })
/// .join();
/// assert!(shared.is_poisoned());
/// assert_eq!(*reader_core::lock(&shared), 1);
/// ```
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
