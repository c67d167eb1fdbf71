//! The registry of an application's store instances ([`StateStores`], by store and task), a
//! task's set of them ([`TaskStores`]), appending their changes to the changelogs, and
//! restoring a new instance from its changelog, and the change signal readers outside the
//! runtime wait on ([`StateStores::wait_change`]).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{StoreInstance, StoreSpec};
use crate::broker::{Broker, BrokerError};

/// A task's instances of every store of the application.
#[derive(Debug, Default)]
pub struct TaskStores {
    pub(super) stores: Vec<Arc<StoreInstance>>,
}

impl TaskStores {
    /// A task's stores from instances (the runtime opens them with [`StateStores::open_task`]).
    pub fn new(stores: Vec<Arc<StoreInstance>>) -> TaskStores {
        TaskStores { stores }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<StoreInstance>> {
        self.stores.iter().find(|s| s.spec.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<StoreInstance>> {
        self.stores.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// Appends the changes of every instance to its changelog (partition = the instance's
    /// task). Returns the number of records written.
    pub fn flush_changelogs(&self, broker: &dyn Broker) -> Result<usize, BrokerError> {
        let mut written = 0;
        for store in &self.stores {
            let Some(topic) = &store.spec.changelog else { continue };
            let records = store.take_changelog();
            if !records.is_empty() {
                broker.append(topic, store.partition, &records)?;
                written += records.len();
            }
        }
        Ok(written)
    }
}

/// The store instances of an application, by store and task. They outlive a run, so a
/// caller can look at them afterwards (`weir test`), and a second run in the same process
/// reuses them rather than restoring.
///
/// **Change signal.** A version number goes up whenever the contents of the stores may have
/// changed: after each batch the runtime processed ([`StateStores::changed`]), and when a
/// task's instances open or close. A reader outside the runtime (the REST API's long-polling
/// routes) notes the version, reads, and if what it wants is not there waits for a later
/// version ([`StateStores::wait_change`]) and reads again; as it noted the version before
/// reading, no change can slip between its read and its wait.
#[derive(Debug, Default)]
pub struct StateStores {
    instances: Mutex<Vec<Arc<StoreInstance>>>,
    version: Mutex<u64>,
    changes: Condvar,
}

impl StateStores {
    pub fn new() -> StateStores {
        StateStores::default()
    }

    /// The instances of `specs` for task `partition`: the existing ones, or new ones restored
    /// from their changelogs (created with `partitions` partitions if they do not exist).
    pub fn open_task(&self, specs: &[Arc<StoreSpec>], partition: u32, partitions: u32, broker: &dyn Broker) -> Result<TaskStores, String> {
        let mut stores = Vec::new();
        for spec in specs {
            let existing = self.lock().iter().find(|i| i.spec.name == spec.name && i.partition == partition).cloned();
            let instance = match existing {
                Some(i) => i,
                None => {
                    let instance = Arc::new(StoreInstance::new(Arc::clone(spec), partition));
                    if let Some(topic) = &spec.changelog {
                        let restored = restore(&instance, topic, partitions, broker)?;
                        if restored > 0 {
                            tracing::info!("state store '{}' of task {partition}: restored {restored} changes from '{topic}'", spec.name);
                        }
                    }
                    self.lock().push(Arc::clone(&instance));
                    instance
                }
            };
            stores.push(instance);
        }
        self.changed();
        Ok(TaskStores { stores })
    }

    /// Forgets the instances of task `partition` (its partitions went to another owner): a
    /// later [`StateStores::open_task`] restores them from their changelogs.
    pub fn close_task(&self, partition: u32) {
        self.lock().retain(|i| i.partition != partition);
        self.changed();
    }

    /// Says that the stores' contents may have changed: wakes every [`StateStores::wait_change`].
    pub fn changed(&self) {
        let mut version = self.version.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *version += 1;
        self.changes.notify_all();
    }

    /// The change signal's version now (see the type's doc).
    pub fn version(&self) -> u64 {
        *self.version.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until the version is past `seen` or `timeout` passes; returns the version then.
    pub fn wait_change(&self, seen: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut version = self.version.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while *version == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            version = self.changes.wait_timeout(version, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        *version
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<StoreInstance>>> {
        self.instances.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every instance of the store `name`, by task.
    pub fn instances(&self, name: &str) -> Vec<Arc<StoreInstance>> {
        let mut found: Vec<_> = self.lock().iter().filter(|i| i.spec.name == name).cloned().collect();
        found.sort_by_key(|i| i.partition);
        found
    }
}

/// Creates the changelog topic if needed and replays its partition into the instance.
fn restore(instance: &StoreInstance, topic: &str, partitions: u32, broker: &dyn Broker) -> Result<usize, String> {
    let partition = instance.partition;
    let config = instance.spec.flavor.changelog_config(partitions);
    let have = broker.ensure_topic_with(topic, &config).map_err(|e| format!("cannot create changelog topic '{topic}': {e}"))?;
    if partition >= have {
        return Err(format!("changelog topic '{topic}' has {have} partition(s), but the application has a task {partition}"));
    }
    let fail = |e: BrokerError| format!("cannot restore state store '{}' from '{topic}': {e}", instance.spec.name);
    let end = broker.end_offset(topic, partition).map_err(fail)?;
    let mut at = broker.start_offset(topic, partition).map_err(fail)?;
    let mut restored = 0;
    while at < end {
        let batch = broker.read(topic, partition, at, 1 << 20).map_err(fail)?;
        let Some(last) = batch.last().map(|r| r.offset) else { break };
        for record in batch.iter().filter(|r| r.offset >= at && r.offset < end) {
            instance.restore(record).map_err(|e| format!("changelog topic '{topic}' partition {partition}: {e}"))?;
            restored += 1;
        }
        at = last + 1;
    }
    Ok(restored)
}
