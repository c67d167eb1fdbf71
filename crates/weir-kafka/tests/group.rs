//! Group membership on a real Kafka broker: assignments across co-partitioned topics,
//! hand-over on rebalance (positions committed before revocation), leaving, fencing.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{broker, config, now_ms, unique};
use weir_engine::broker::{Assignment, Broker, ErrorKind, GroupMember, NewRecord};
use weir_kafka::KafkaBroker;

type Owned = BTreeSet<(String, u32)>;

/// A member under test: what it owns (from its events) and every event it saw.
struct Member {
    inner: Box<dyn GroupMember>,
    owned: Owned,
    events: Vec<Assignment>,
    /// The positions it passes at `poll`: next offset per owned partition.
    position_of: fn(&str, u32) -> u64,
}

impl Member {
    fn join(broker: &KafkaBroker, group: &str, topics: &[String], n: usize, position_of: fn(&str, u32) -> u64) -> Member {
        let inner = broker.join_group(group, topics, n, 3).expect("join");
        Member { inner, owned: Owned::new(), events: Vec::new(), position_of }
    }

    fn poll(&mut self, timeout: Duration) {
        let positions: Vec<(String, u32, u64)> = self.owned.iter().map(|(t, p)| (t.clone(), *p, (self.position_of)(t, *p))).collect();
        let borrowed: Vec<(&str, u32, u64)> = positions.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect();
        for event in self.inner.poll(&borrowed, timeout).expect("poll") {
            match &event {
                Assignment::Assigned(parts) => self.owned.extend(parts.iter().cloned()),
                Assignment::Revoked(parts) => {
                    for part in parts {
                        self.owned.remove(part);
                    }
                }
            }
            self.events.push(event);
        }
    }

    fn partitions_of(&self, topic: &str) -> BTreeSet<u32> {
        self.owned.iter().filter(|(t, _)| t == topic).map(|(_, p)| *p).collect()
    }
}

/// Polls every member in turn until `done` holds for them (and they stay so for a moment: no
/// rebalance under way), or fails after a minute.
fn settle(members: &mut [&mut Member], done: impl Fn(&[&mut Member]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut since: Option<Instant> = None;
    loop {
        for m in members.iter_mut() {
            m.poll(Duration::from_millis(50));
        }
        if done(members) {
            let at = *since.get_or_insert_with(Instant::now);
            if at.elapsed() > Duration::from_millis(1500) {
                return;
            }
        } else {
            since = None;
        }
        assert!(Instant::now() < deadline, "the group did not settle: {:?}", members.iter().map(|m| m.owned.clone()).collect::<Vec<_>>());
    }
}

fn topics(broker: &KafkaBroker, partitions: u32) -> Vec<String> {
    let topics = vec![unique("left"), unique("right")];
    for t in &topics {
        broker.ensure_topic(t, partitions).expect("create");
        for p in 0..partitions {
            let records: Vec<NewRecord> = (0..20).map(|i| NewRecord::new(now_ms(), Some(format!("k{i}").as_bytes()), Some(b"v"))).collect();
            broker.append(t, p, &records).expect("append");
        }
    }
    broker.sync().expect("sync");
    topics
}

fn all(topics: &[String], partitions: u32) -> Owned {
    topics.iter().flat_map(|t| (0..partitions).map(move |p| (t.clone(), p))).collect()
}

fn position(topic: &str, partition: u32) -> u64 {
    // Different per topic and partition, below the 20 records each holds.
    (if topic.starts_with("left") { 1 } else { 11 }) + u64::from(partition)
}

#[test]
fn members_share_co_partitioned_topics_and_hand_over_on_rebalance() {
    let broker = broker();
    let topics = topics(&broker, 4);
    let group = unique("app");

    // One member: everything.
    let mut a = Member::join(&broker, &group, &topics, 0, position);
    settle(&mut [&mut a], |m| m[0].owned == all(&topics, 4));

    // A second member: two partitions each, the same numbers of both topics.
    let mut b = Member::join(&broker, &group, &topics, 1, position);
    settle(&mut [&mut a, &mut b], |m| m[0].owned.len() == 4 && m[1].owned.len() == 4);
    for m in [&a, &b] {
        assert_eq!(m.partitions_of(&topics[0]), m.partitions_of(&topics[1]), "co-partitioned: {:?}", m.owned);
        assert_eq!(m.partitions_of(&topics[0]).len(), 2);
    }
    assert!(a.owned.is_disjoint(&b.owned));
    assert_eq!(a.owned.union(&b.owned).cloned().collect::<Owned>(), all(&topics, 4));
    // a's first assignment was revoked before the new one: events alternate, assigned first
    // and last (a rebalance may take more than one round).
    assert!(a.events.len() >= 3, "{:?}", a.events);
    for (i, event) in a.events.iter().enumerate() {
        assert_eq!(matches!(event, Assignment::Assigned(_)), i % 2 == 0, "{:?}", a.events);
    }
    assert!(matches!(a.events.last(), Some(Assignment::Assigned(_))), "{:?}", a.events);
    // The revocation committed the positions a passed at its last poll (it owned everything).
    for (topic, partition) in all(&topics, 4) {
        assert_eq!(
            broker.committed(&group, &topic, partition).expect("committed"),
            Some(position(&topic, partition)),
            "{topic}/{partition}"
        );
    }

    // While the group has members, a commit from outside it is refused.
    let outside = broker.commit(&group, &[(&topics[0], 0, 3)]).expect_err("not a member");
    assert_eq!(outside.kind, ErrorKind::Fenced, "{outside}");
    assert!(outside.to_string().contains(&group), "{outside}");

    // Members commit their own positions.
    let b_positions: Vec<(String, u32, u64)> = b.owned.iter().map(|(t, p)| (t.clone(), *p, 15)).collect();
    let borrowed: Vec<(&str, u32, u64)> = b_positions.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect();
    b.inner.commit(&broker, &borrowed).expect("member commit");
    for (t, p) in &b.owned {
        assert_eq!(broker.committed(&group, t, *p).expect("committed"), Some(15));
    }
    // Positions of partitions the member does not own are not committed.
    let (t, p) = a.owned.iter().next().cloned().expect("a owns some");
    b.inner.commit(&broker, &[(&t, p, 19)]).expect("nothing to commit");
    assert_ne!(broker.committed(&group, &t, p).expect("committed"), Some(19));

    // A third member: the partitions it takes had their positions committed by their owner
    // before the revocation (a and b pass `position` again at their polls).
    b.position_of = |t, p| position(t, p) + 2;
    let mut c = Member::join(&broker, &group, &topics, 2, position);
    settle(&mut [&mut a, &mut b, &mut c], |m| m.iter().all(|m| !m.owned.is_empty()) && m.iter().map(|m| m.owned.len()).sum::<usize>() == 8);
    for m in [&a, &b, &c] {
        assert_eq!(m.partitions_of(&topics[0]), m.partitions_of(&topics[1]), "co-partitioned: {:?}", m.owned);
    }
    for (topic, partition) in &c.owned {
        let committed = broker.committed(&group, topic, *partition).expect("committed");
        let by_a = position(topic, *partition);
        assert!(committed == Some(by_a) || committed == Some(by_a + 2), "{topic}/{partition}: {committed:?}");
    }

    // A member leaves: the others take its partitions (revoked, then assigned again).
    let c_events_before = (a.events.len(), b.events.len());
    drop(c);
    settle(&mut [&mut a, &mut b], |m| m[0].owned.len() + m[1].owned.len() == 8);
    assert!(a.events.len() > c_events_before.0 && b.events.len() > c_events_before.1);
    drop(b);
    settle(&mut [&mut a], |m| m[0].owned == all(&topics, 4));
    let tail = &a.events[a.events.len() - 2..];
    assert!(matches!(tail, [Assignment::Revoked(_), Assignment::Assigned(_)]), "{tail:?}");
    let Assignment::Assigned(last) = &tail[1] else { unreachable!() };
    assert_eq!(last.iter().cloned().collect::<Owned>(), all(&topics, 4));
}

#[test]
fn members_do_not_fetch_records() {
    // The member's partitions are paused at their end: the group member never hands records
    // to the caller, and `read` is unaffected by membership.
    let broker = broker();
    let topics = topics(&broker, 2);
    let group = unique("quiet");
    let mut a = Member::join(&broker, &group, &topics, 0, position);
    settle(&mut [&mut a], |m| m[0].owned == all(&topics, 2));
    broker.append(&topics[0], 0, &[NewRecord::new(now_ms(), None, Some(b"more"))]).expect("append");
    broker.sync().expect("sync");
    a.poll(Duration::from_millis(500));
    assert_eq!(a.events.len(), 1, "{:?}", a.events);
    assert_eq!(broker.read(&topics[0], 0, 20, 1 << 20).expect("read").len(), 1);
}

#[test]
fn a_member_that_stops_polling_loses_its_partitions_without_committing() {
    let config = config()
        .with_properties([
            ("consumer.session.timeout.ms", "6000"),
            ("consumer.max.poll.interval.ms", "6000"),
            ("consumer.heartbeat.interval.ms", "1000"),
        ])
        .expect("config");
    let broker = KafkaBroker::connect(config).expect("connect");
    let topics = topics(&broker, 1);
    let group = unique("slow");
    let mut a = Member::join(&broker, &group, &topics, 0, position);
    settle(&mut [&mut a], |m| m[0].owned == all(&topics, 1));
    // Past max.poll.interval.ms without a poll: librdkafka leaves the group.
    std::thread::sleep(Duration::from_secs(8));
    a.position_of = |_, _| 7;
    a.poll(Duration::from_millis(200));
    assert!(matches!(a.events.get(1), Some(Assignment::Revoked(_))), "{:?}", a.events);
    assert_eq!(broker.committed(&group, &topics[0], 0).expect("committed"), None, "a lost assignment commits nothing");
    // It rejoins, and gets its partitions again.
    settle(&mut [&mut a], |m| m[0].owned == all(&topics, 1));
}

#[test]
fn closing_a_member_commits_its_latest_positions_not_an_older_polls() {
    let broker = broker();
    let topics = topics(&broker, 1);
    let group = unique("closing");
    let mut a = Member::join(&broker, &group, &topics, 0, |_, _| 5);
    settle(&mut [&mut a], |m| m[0].owned == all(&topics, 1));
    a.poll(Duration::from_millis(10));
    let later: Vec<(&str, u32, u64)> = topics.iter().map(|t| (t.as_str(), 0, 12)).collect();
    a.inner.commit(&broker, &later).expect("commit");
    // Leaving revokes the partitions, which commits the member's positions: the latest.
    drop(a);
    for t in &topics {
        assert_eq!(broker.committed(&group, t, 0).expect("committed"), Some(12), "{t}");
    }
}
