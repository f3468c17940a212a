//! One capture on several threads (`analyze -j N`), with output identical to
//! one thread's.
//!
//! A reader thread copies frames into reusable batches and hands every batch
//! to every shard. Each shard runs a [`Pipeline`] that decodes every frame
//! (decoding is a few percent of the work) but follows only the flows a
//! seeded hash of the direction-free 4-tuple puts on it; the segments of
//! other flows only move its table's clock and sweeps, so every shard ends
//! connections at the instants one table would. Shards number connections by
//! the frame that opened them; the calling thread merges each batch's ended
//! connections in the order one table ends them ([`EndKey`]), gives them the
//! run's ids (the rank of their opening frame), and only then filters and
//! hands them out.
//!
//! The one difference from one thread: each shard's table holds
//! `--max-connections / N` connections (and as many closed 4-tuples), so a
//! capture that overflows the table can evict other connections than one
//! thread would. The caller says so when it happens.

use super::files::complete_report;
use super::{Connections, EndKey, Pipeline, Progress, SHARD_CHUNK, ShardEvent};
use crate::capture::{self, CaptureError, CaptureSummary, Frame, Timestamp};
use crate::decode::{self, Decoded};
use crate::filter::Filter;
use crate::flow::{FlowHasher, FlowKey, seeded_hasher};
use crate::judge::Config;
use crate::model::FileReport;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, OnceLock};

/// Threads to judge on when none is asked for: one per core on a machine of
/// four cores or more. Below that one thread: the reader and the merging
/// thread compete with the shards for the cores, and on two cores a split
/// run measured 0.9–1.25× the wall time of one thread for 1.3–1.7× its cpu
/// (docs/performance.md).
pub fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores >= MIN_CORES_TO_SPLIT {
        cores
    } else {
        1
    }
}

/// Fewest cores on which a capture is split by default.
pub const MIN_CORES_TO_SPLIT: usize = 4;

/// Puts each flow on one of `shards` shards, by a hash of its 4-tuple that is
/// the same both ways ([`FlowKey`] is) and seeded at random per run, so that
/// a sender who chooses addresses and ports cannot pile its flows onto one
/// thread. The seed is independent of the flow tables' own: a table whose
/// keys all share a hash residue would crowd into a fraction of its buckets.
#[derive(Debug, Clone)]
pub struct Sharder {
    hasher: FlowHasher,
    shards: usize,
}

impl Sharder {
    /// A per-run random seed.
    pub fn random(shards: usize) -> Sharder {
        Sharder {
            hasher: FlowHasher::random(),
            shards: shards.max(1),
        }
    }

    /// A chosen seed (tests: the partition depends on it, the output not).
    pub fn seeded(shards: usize, seed: u64) -> Sharder {
        Sharder {
            hasher: seeded_hasher(seed),
            shards: shards.max(1),
        }
    }

    /// The shard that follows `key`'s flow, in `0..shards`.
    #[inline]
    pub fn shard(&self, key: &FlowKey) -> usize {
        // The high bits of hash × shards: no division, and unrelated to the
        // low bits hash tables index by.
        ((self.hasher.hash_one(key) as u128 * self.shards as u128) >> 64) as usize
    }
}

/// Frames per batch: enough to make the hand-over cost nothing per frame,
/// few enough that batches in flight stay small.
const BATCH_FRAMES: usize = 8192;
/// Batches in flight at most, whatever the number of shards.
const BATCH_POOL: usize = 5;
/// Bytes per batch, for captures of large frames.
const BATCH_BYTES: usize = 2 << 20;

/// A run of frames copied out of the reader's buffer: one arena of bytes and
/// each frame's place in it. Reused from batch to batch.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    frames: Vec<Meta>,
}

#[derive(Clone, Copy)]
struct Meta {
    number: u64,
    ts: Timestamp,
    link_type: u32,
    orig_len: u32,
    start: usize,
    end: usize,
    /// The shard whose flow this plain TCP segment is, or [`EVERY_SHARD`].
    owner: u16,
}

/// A frame every shard decodes: not a plain TCP segment (a fragment, an
/// ICMP error, anything else); the shards sort out what is theirs.
const EVERY_SHARD: u16 = u16::MAX;

impl Batch {
    /// Copies `f` in; the reader decodes it once so that only the shard it
    /// belongs to decodes it again.
    fn push(&mut self, f: &Frame<'_>, sharder: &Sharder) {
        let owner = match decode::decode_frame(f) {
            Ok(Decoded::Tcp(seg)) => sharder.shard(&FlowKey::of(&seg)) as u16,
            _ => EVERY_SHARD,
        };
        let start = self.bytes.len();
        self.bytes.extend_from_slice(f.data);
        self.frames.push(Meta {
            number: f.number,
            ts: f.ts,
            link_type: f.link_type,
            orig_len: f.orig_len,
            start,
            end: self.bytes.len(),
            owner,
        });
    }

    fn full(&self) -> bool {
        self.frames.len() >= BATCH_FRAMES || self.bytes.len() >= BATCH_BYTES
    }

    fn frame(&self, m: &Meta) -> Frame<'_> {
        Frame {
            number: m.number,
            ts: m.ts,
            link_type: m.link_type,
            orig_len: m.orig_len,
            data: &self.bytes[m.start..m.end],
        }
    }
}

/// What the reader sends each shard.
enum Work {
    Frames(Arc<Batch>),
    /// The capture is read to its end: finish every connection.
    Finish,
}

/// What each shard sends the merger, in order.
enum Done {
    /// Events, in the shard's order; more may follow for the same batch.
    Events(Vec<ShardEvent>),
    /// Every event of this batch's frames has been sent.
    Batch(Arc<Batch>),
    /// Every connection is finished and its event sent.
    Finished(Box<FileReport>),
}

/// Messages a shard may have waiting for the merger: with [`SHARD_CHUNK`]
/// events each, this bounds the reports in flight whatever a sweep ends.
const DONE_DEPTH: usize = 8;

/// Analyses one capture file on `jobs` shard threads, plus a reader thread;
/// the calling thread merges. Connections reach `on_connection` in the order,
/// with the ids, and through the filter of [`super::analyze_path_filtered`].
pub(super) fn analyze(
    path: &Path,
    config: &Config,
    filter: &Filter,
    jobs: usize,
    next_id: &mut u64,
    on_connection: &mut dyn Connections,
    progress: &mut dyn Progress,
) -> Result<FileReport, CaptureError> {
    // Shards are numbered in a u16, below the mark of frames for all.
    let jobs = jobs.min(EVERY_SHARD as usize);
    let sharder = Sharder::random(jobs);
    let source = path.display().to_string();
    let mut shard_config = config.clone();
    shard_config.max_connections = (config.max_connections / jobs).max(1);
    // Batches in flight (each is shared by all shards): the one being
    // filled, the one being merged, and room for a shard to run a few ahead
    // of the slowest.
    let pool = BATCH_POOL;
    let counter = progress.byte_counter();
    // Set by the reader before it sends the first batch, so before the
    // merger sees any connection.
    let first_ts = OnceLock::new();

    std::thread::scope(|s| {
        let (recycle_tx, recycle_rx) = channel::<Batch>();
        let mut work_txs = Vec::with_capacity(jobs);
        let mut streams = Vec::with_capacity(jobs);
        for index in 0..jobs {
            let (work_tx, work_rx) = channel::<Work>();
            let (done_tx, done_rx) = sync_channel::<Done>(DONE_DEPTH);
            let (spare_tx, spare_rx) = channel::<Vec<ShardEvent>>();
            let events_tx = done_tx.clone();
            let hand_on = Box::new(move |full: Vec<ShardEvent>| {
                // A closed channel means the merger stopped: nothing to keep.
                let _ = events_tx.send(Done::Events(full));
                spare_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(SHARD_CHUNK))
            });
            let shard_of = (sharder.clone(), index);
            let pipeline = Pipeline::shard(shard_config.clone(), &source, shard_of, hand_on);
            std::thread::Builder::new()
                .name(format!("tcpshake-shard-{index}"))
                .spawn_scoped(s, move || shard(pipeline, index as u16, work_rx, done_tx))
                .expect("spawning a shard thread");
            work_txs.push(work_tx);
            streams.push(Stream {
                rx: done_rx,
                events: Vec::new(),
                spare: spare_tx,
                done: false,
            });
        }
        let start = &first_ts;
        let reader = std::thread::Builder::new()
            .name("tcpshake-reader".into())
            .spawn_scoped(s, move || {
                read(
                    path,
                    (counter, start),
                    (work_txs, &sharder),
                    recycle_rx,
                    pool,
                )
            })
            .expect("spawning the reader thread");

        let mut merger = Merger {
            ids: HashMap::with_hasher(FlowHasher::random()),
            next_id: *next_id,
            start,
            filter,
        };
        let mut reports = Vec::with_capacity(jobs);
        let mut batches = Vec::with_capacity(jobs);
        loop {
            let complete = merger.merge(&mut streams, &mut batches, &mut reports, on_connection);
            if !complete {
                // A shard stopped without finishing: the reader failed (its
                // error is returned below) or a shard panicked (the scope
                // passes the panic on).
                break;
            }
            if let Some(batch) = batches.first() {
                let first = batch.frames[0].number;
                let last = batch.frames[batch.frames.len() - 1].number;
                let mut n = (first + 0x3fff) & !0x3fff;
                while n <= last {
                    progress.frames(n);
                    n += 0x4000;
                }
            }
            // The last holder of a batch sends it back to the reader.
            if let Some(batch) = batches.pop() {
                batches.clear();
                if let Ok(batch) = Arc::try_unwrap(batch) {
                    let _ = recycle_tx.send(batch);
                }
            }
            if reports.len() == jobs {
                break;
            }
            for st in &mut streams {
                st.done = false;
            }
        }
        drop(recycle_tx);
        drop(streams);
        let summary = reader.join().expect("the reader thread panicked")?;
        let mut reports = reports.into_iter();
        let Some(mut report) = reports.next() else {
            unreachable!("the reader finished, so every shard did");
        };
        // Frame-level counts are every shard's (each saw every frame); what
        // a shard decided for the flows it owns adds up.
        for r in reports {
            report.connections += r.connections;
            report.evicted_connections += r.evicted_connections;
            report.forgotten_closed_tuples += r.forgotten_closed_tuples;
            report.icmp_errors_unmatched += r.icmp_errors_unmatched;
        }
        *next_id = merger.next_id;
        Ok(complete_report(report, summary))
    })
}

/// The reader thread: frames into batches, every batch to every shard.
fn read(
    path: &Path,
    (counter, start): (Option<Arc<AtomicU64>>, &OnceLock<Timestamp>),
    (shards, sharder): (Vec<Sender<Work>>, &Sharder),
    recycle: Receiver<Batch>,
    pool: usize,
) -> Result<CaptureSummary, CaptureError> {
    let mut made = 1;
    let mut fresh = || match recycle.try_recv() {
        Ok(b) => Some(b),
        Err(_) if made < pool => {
            made += 1;
            None
        }
        // All batches in flight: wait for the merger to give one back.
        Err(_) => recycle.recv().ok(),
    };
    let send = |batch: Batch| {
        let batch = Arc::new(batch);
        for tx in &shards {
            let _ = tx.send(Work::Frames(Arc::clone(&batch)));
        }
    };
    let mut batch = Batch::default();
    let result = capture::read_path_counted(path, counter, &mut |frame: &Frame<'_>| {
        start.get_or_init(|| frame.ts);
        batch.push(frame, sharder);
        if batch.full() {
            let mut next = fresh().unwrap_or_default();
            next.bytes.clear();
            next.frames.clear();
            send(std::mem::replace(&mut batch, next));
        }
    });
    if !batch.frames.is_empty() {
        send(batch);
    }
    if result.is_ok() {
        for tx in &shards {
            let _ = tx.send(Work::Finish);
        }
    }
    result
}

/// A shard thread: runs its pipeline over every batch; its events go to the
/// merger as they fill a chunk, and at the end of each batch.
fn shard(mut pipeline: Pipeline, index: u16, work: Receiver<Work>, done: SyncSender<Done>) {
    let flush = |pipeline: &mut Pipeline| {
        if let Some(part) = pipeline.shard_part() {
            part.flush();
        }
    };
    while let Ok(w) = work.recv() {
        match w {
            Work::Frames(batch) => {
                for m in &batch.frames {
                    if m.owner == index || m.owner == EVERY_SHARD {
                        pipeline.frame(&batch.frame(m), &mut |_| {});
                    } else {
                        pipeline.foreign_segment(&batch.frame(m));
                    }
                }
                flush(&mut pipeline);
                if done.send(Done::Batch(batch)).is_err() {
                    return;
                }
            }
            Work::Finish => {
                pipeline.finish(&mut |_| {});
                flush(&mut pipeline);
                let report = Box::new(pipeline.into_report());
                let _ = done.send(Done::Finished(report));
                return;
            }
        }
    }
}

/// One shard's events as the merger reads them.
struct Stream {
    rx: Receiver<Done>,
    /// Events not yet merged, last first (popped from the end).
    events: Vec<ShardEvent>,
    /// Where emptied vectors go back to the shard.
    spare: Sender<Vec<ShardEvent>>,
    /// The shard has sent everything of the current batch.
    done: bool,
}

impl Stream {
    /// The next event, receiving more if need be; `None` once the batch is
    /// done. `Err` when the shard stopped.
    fn peek(
        &mut self,
        batches: &mut Vec<Arc<Batch>>,
        reports: &mut Vec<FileReport>,
    ) -> Result<Option<EndKey>, ()> {
        while self.events.is_empty() && !self.done {
            match self.rx.recv() {
                Ok(Done::Events(mut v)) => {
                    v.reverse();
                    let empty = std::mem::replace(&mut self.events, v);
                    if empty.capacity() > 0 {
                        let _ = self.spare.send(empty);
                    }
                }
                Ok(Done::Batch(b)) => {
                    batches.push(b);
                    self.done = true;
                }
                Ok(Done::Finished(r)) => {
                    reports.push(*r);
                    self.done = true;
                }
                Err(_) => return Err(()),
            }
        }
        Ok(self.events.last().map(|e| e.key))
    }
}

/// Puts the shards' events back into one table's order and ids.
struct Merger<'a> {
    /// Run id of each open connection, by the frame that opened it.
    ids: HashMap<u64, u64, FlowHasher>,
    next_id: u64,
    /// The first frame's time, for the filter's relative times.
    start: &'a OnceLock<Timestamp>,
    filter: &'a Filter,
}

impl Merger<'_> {
    /// Merges one batch (or the finish) of every stream; false if a shard
    /// stopped before the end of it.
    fn merge(
        &mut self,
        streams: &mut [Stream],
        batches: &mut Vec<Arc<Batch>>,
        reports: &mut Vec<FileReport>,
        on_connection: &mut dyn Connections,
    ) -> bool {
        loop {
            let mut best: Option<(usize, EndKey)> = None;
            for (i, st) in streams.iter_mut().enumerate() {
                match st.peek(batches, reports) {
                    Err(()) => return false,
                    Ok(Some(key)) if best.is_none_or(|(_, b)| key < b) => best = Some((i, key)),
                    Ok(_) => {}
                }
            }
            let Some((i, key)) = best else {
                return true;
            };
            let Some(event) = streams[i].events.pop() else {
                return true;
            };
            let Some(mut report) = event.report else {
                // Opened: ids go in order of the opening frame, as one
                // table gives them.
                self.ids.insert(key.frame, self.next_id);
                self.next_id += 1;
                continue;
            };
            let id = self.ids.remove(&key.opened);
            debug_assert!(id.is_some(), "connection opened at frame {}", key.opened);
            report.id = id.unwrap_or(key.opened);
            if self.filter.is_empty() || self.filter.matches(&report, self.start.get().copied()) {
                on_connection.connection(report);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::IpAddress;

    fn keys() -> Vec<FlowKey> {
        (0..256u16)
            .map(|p| {
                FlowKey::from_endpoints(
                    (IpAddress::V4([10, 0, 0, 1]), 1024 + p),
                    (IpAddress::V4([10, 0, 0, 2]), 80),
                )
            })
            .collect()
    }

    #[test]
    fn the_partition_depends_on_the_seed() {
        let part = |s: &Sharder| keys().iter().map(|k| s.shard(k)).collect::<Vec<_>>();
        let (a, b) = (Sharder::seeded(2, 1), Sharder::seeded(2, 2));
        assert_eq!(part(&a), part(&Sharder::seeded(2, 1)));
        assert_ne!(part(&a), part(&b), "a fixed hash would give one partition");
        // Two runs draw two seeds: 256 flows fall the same way by chance with
        // probability 2^-256.
        assert_ne!(part(&Sharder::random(2)), part(&Sharder::random(2)));
    }

    #[test]
    fn every_shard_gets_a_share_and_both_directions_agree() {
        let s = Sharder::random(4);
        let mut counts = [0usize; 4];
        for k in keys() {
            counts[s.shard(&k)] += 1;
        }
        assert!(counts.iter().all(|&n| n > 20), "{counts:?}");
        let there = FlowKey::from_endpoints(
            (IpAddress::V4([192, 0, 2, 1]), 40000),
            (IpAddress::V4([192, 0, 2, 2]), 443),
        );
        let back = FlowKey::from_endpoints(
            (IpAddress::V4([192, 0, 2, 2]), 443),
            (IpAddress::V4([192, 0, 2, 1]), 40000),
        );
        assert_eq!(s.shard(&there), s.shard(&back));
    }
}
