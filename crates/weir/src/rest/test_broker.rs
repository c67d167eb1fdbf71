//! A broker for the REST API's unit tests: records in memory, a consumer group that is
//! whatever the test says, and a `sync` that can be made slow or failing.

use std::sync::Mutex;
use std::time::Duration;

use weir_engine::broker::memory::MemoryBroker;
use weir_engine::broker::{Broker, BrokerError, ErrorKind, GroupOwners, NewRecord, Result as BrokerResult, StoredRecord, TopicSpec};

/// What `sync` does.
#[derive(Debug, Clone)]
pub enum Sync {
    /// Returns at once.
    Done,
    /// Returns after this long.
    Slow(Duration),
    /// Fails with this message.
    Fails(String),
}

pub struct TestBroker {
    pub records: MemoryBroker,
    pub group: Mutex<GroupOwners>,
    pub sync: Mutex<Sync>,
}

impl TestBroker {
    pub fn new(group: GroupOwners) -> TestBroker {
        TestBroker { records: MemoryBroker::new(), group: Mutex::new(group), sync: Mutex::new(Sync::Done) }
    }
}

impl Broker for TestBroker {
    fn describe(&self) -> String {
        "a test broker".to_string()
    }
    fn ensure_topic_with(&self, topic: &str, spec: &TopicSpec) -> BrokerResult<u32> {
        self.records.ensure_topic_with(topic, spec)
    }
    fn append(&self, topic: &str, partition: u32, records: &[NewRecord]) -> BrokerResult<()> {
        self.records.append(topic, partition, records)
    }
    fn read(&self, topic: &str, partition: u32, from: u64, max_bytes: usize) -> BrokerResult<Vec<StoredRecord>> {
        self.records.read(topic, partition, from, max_bytes)
    }
    fn start_offset(&self, topic: &str, partition: u32) -> BrokerResult<u64> {
        self.records.start_offset(topic, partition)
    }
    fn end_offset(&self, topic: &str, partition: u32) -> BrokerResult<u64> {
        self.records.end_offset(topic, partition)
    }
    fn wait_for(&self, topic: &str, partition: u32, offset: u64, timeout: Duration) -> BrokerResult<bool> {
        self.records.wait_for(topic, partition, offset, timeout)
    }
    fn sync(&self) -> BrokerResult<()> {
        let sync = self.sync.lock().expect("sync").clone();
        match sync {
            Sync::Done => Ok(()),
            Sync::Slow(pause) => {
                std::thread::sleep(pause);
                Ok(())
            }
            Sync::Fails(message) => Err(BrokerError::new(ErrorKind::Unavailable, message)),
        }
    }
    fn commit(&self, group: &str, offsets: &[(&str, u32, u64)]) -> BrokerResult<()> {
        self.records.commit(group, offsets)
    }
    fn committed(&self, group: &str, topic: &str, partition: u32) -> BrokerResult<Option<u64>> {
        self.records.committed(group, topic, partition)
    }
    fn group_owners(&self, _group: &str) -> BrokerResult<Option<GroupOwners>> {
        Ok(Some(self.group.lock().expect("group").clone()))
    }
}
