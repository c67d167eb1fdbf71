//! The current task's stores: the runtime runs each batch of a task's records inside
//! [`in_task`], and code called during the batch (a function runtime's store proxies)
//! reaches that task's instance of a store with [`current`], without the `Functions` port
//! carrying it.

use std::cell::RefCell;
use std::sync::Arc;

use super::{StoreError, StoreErrorKind, StoreInstance, TaskStores};

thread_local! {
    static CURRENT: RefCell<Option<Arc<TaskStores>>> = const { RefCell::new(None) };
}

/// Restores the previous task context when dropped (also when the body panics).
struct Entered(Option<Arc<TaskStores>>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Runs `body` with `stores` as the current task's stores (see [`current`]).
pub fn in_task<R>(stores: &Arc<TaskStores>, body: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(stores)));
    let _restore = Entered(previous);
    body()
}

/// The current task's instance of the store `name` (inside [`in_task`]).
pub fn current(name: &str) -> Result<Arc<StoreInstance>, StoreError> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(task) => task.get(name).cloned().ok_or_else(|| StoreError {
            kind: StoreErrorKind::Unavailable,
            message: format!("state store '{name}' does not exist in this application"),
        }),
        None => Err(StoreError {
            kind: StoreErrorKind::Unavailable,
            message: format!("state store '{name}' is only available while a stream task processes a record"),
        }),
    })
}
