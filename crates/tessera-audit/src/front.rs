//! The request side of a journaled audit store, shared by the SQLite and PostgreSQL stores:
//! requests queue their encoded events to the writer thread, which appends each group commit to
//! the journal ([`crate::journal`]) with one sync and answers the receipts; whatever indexes the
//! journal afterwards (into `audit.db`, or into PostgreSQL) is the store's own.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::event::AuditEvent;
use crate::journal::{JournalWriter, Row};
use crate::store::{AuditError, Receipt};

/// Largest number of events committed in one group.
const MAX_BATCH_EVENTS: usize = 8192;
/// How long after a failed write `ready()` refuses new requests.
const FAILURE_HOLD: Duration = Duration::from_secs(1);

/// What the writer thread is asked to do: make these events durable, then answer.
struct Job {
    rows: Vec<Row>,
    done: tokio::sync::oneshot::Sender<Result<(), AuditError>>,
}

/// How far the journal and its index have come, shared by the writer, the indexer and readers.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Highest sequence number durable in the journal.
    pub durable: AtomicI64,
    /// Highest sequence number indexed.
    pub indexed: AtomicI64,
    writer_alive: AtomicBool,
    last_failure_millis: AtomicI64,
}

impl Progress {
    /// Progress of a journal whose events up to `indexed` are indexed and whose next event is
    /// numbered `next_seq`.
    pub fn new(indexed: i64, next_seq: i64) -> Progress {
        Progress {
            durable: AtomicI64::new(next_seq - 1),
            indexed: AtomicI64::new(indexed),
            writer_alive: AtomicBool::new(true),
            last_failure_millis: AtomicI64::new(0),
        }
    }

    /// Durable events not yet indexed.
    pub fn backlog(&self) -> i64 {
        self.durable.load(Ordering::SeqCst) - self.indexed.load(Ordering::SeqCst)
    }
}

/// Milliseconds since the epoch by the wall clock.
pub(crate) fn wall_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Lock `m`, also after a panic of another holder.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the writer does when the backlog of unindexed events passes its bound: index this many
/// of them up to the given sequence number on its own thread.
pub(crate) type CatchUp = Box<dyn Fn(i64, usize) -> Result<(), AuditError> + Send>;

/// The writer thread and the queue to it.
pub(crate) struct Front {
    pub progress: Arc<Progress>,
    sender: RwLock<Option<Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Front {
    /// Start the writer appending to `journal` from `next_seq` on. It nudges `nudge` once
    /// `step` events wait to be indexed, and when more than `max_backlog` wait, runs `catch_up`.
    pub fn start(
        progress: Arc<Progress>,
        journal: JournalWriter,
        next_seq: i64,
        nudge: SyncSender<()>,
        (step, max_backlog): (usize, i64),
        catch_up: CatchUp,
    ) -> Front {
        let (tx, rx) = mpsc::channel::<Job>();
        let writer = {
            let progress = Arc::clone(&progress);
            std::thread::Builder::new()
                .name("audit-writer".into())
                .spawn(move || writer_loop(&progress, &rx, journal, next_seq, &nudge, (step, max_backlog), &catch_up))
                .map_err(|e| tracing::error!(error = %e, "cannot start the audit writer"))
                .ok()
        };
        if writer.is_none() {
            progress.writer_alive.store(false, Ordering::SeqCst);
        }
        Front { progress, sender: RwLock::new(Some(tx)), writer: Mutex::new(writer) }
    }

    /// Stop the writer after the events already queued are durable.
    pub fn stop(&self) {
        if let Ok(mut s) = self.sender.write() {
            s.take();
        }
        if let Some(h) = lock(&self.writer).take() {
            let _ = h.join();
        }
    }

    /// Whether events can be recorded now.
    pub fn ready(&self) -> Result<(), AuditError> {
        if !self.progress.writer_alive.load(Ordering::SeqCst) {
            return Err(AuditError::Unavailable("the audit writer has stopped".into()));
        }
        let failed = self.progress.last_failure_millis.load(Ordering::SeqCst);
        if failed != 0 && wall_millis() - failed < i64::try_from(FAILURE_HOLD.as_millis()).unwrap_or(1000) {
            return Err(AuditError::Unavailable("the audit log could not be written a moment ago".into()));
        }
        Ok(())
    }

    /// Queue `events` for the next group commit.
    pub fn submit(
        &self,
        events: &[AuditEvent],
        encode: fn(&AuditEvent) -> Result<Row, AuditError>,
    ) -> Result<Receipt, AuditError> {
        if events.is_empty() {
            return Ok(Receipt::done(Ok(())));
        }
        let rows = events.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let (done, receipt) = Receipt::channel();
        let sender = self.sender.read().map_err(|_| AuditError::Unavailable("audit writer lock poisoned".into()))?;
        let Some(sender) = sender.as_ref() else {
            return Err(AuditError::Unavailable("the audit store is shut down".into()));
        };
        let queued = rows.len() as f64;
        sender.send(Job { rows, done }).map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?;
        metrics::gauge!("tessera_audit_queue_depth").increment(queued);
        Ok(receipt)
    }
}

/// The writer: each turn takes every job queued (up to [`MAX_BATCH_EVENTS`] events), appends
/// them to the journal with one sync, answers them, and nudges the indexer once a step waits.
fn writer_loop(
    progress: &Progress,
    rx: &Receiver<Job>,
    mut journal: JournalWriter,
    mut next_seq: i64,
    nudge: &SyncSender<()>,
    (step, max_backlog): (usize, i64),
    catch_up: &CatchUp,
) {
    while let Ok(first) = rx.recv() {
        let mut n = first.rows.len();
        let mut jobs = vec![first];
        while n < MAX_BATCH_EVENTS {
            let Ok(j) = rx.try_recv() else { break };
            n += j.rows.len();
            jobs.push(j);
        }
        let mut rows = Vec::with_capacity(n);
        let mut waiting = Vec::with_capacity(jobs.len());
        for job in jobs {
            rows.extend(job.rows);
            waiting.push(job.done);
        }
        metrics::gauge!("tessera_audit_queue_depth").decrement(n as f64);
        metrics::histogram!("tessera_audit_batch_events").record(n as f64);
        let started = Instant::now();
        let result = journal.append(next_seq, rows);
        metrics::histogram!("tessera_audit_sync_seconds").record(started.elapsed().as_secs_f64());
        match &result {
            Ok(()) => {
                next_seq += i64::try_from(n).unwrap_or(0);
                progress.durable.store(next_seq - 1, Ordering::SeqCst);
                progress.last_failure_millis.store(0, Ordering::SeqCst);
            }
            Err(e) => {
                metrics::counter!("tessera_audit_sync_failures_total").increment(1);
                tracing::error!(error = %e, events = n, "audit events could not be written; their requests fail");
                progress.last_failure_millis.store(wall_millis(), Ordering::SeqCst);
            }
        }
        for done in waiting {
            let _ = done.send(result.clone());
        }
        let durable = progress.durable.load(Ordering::SeqCst);
        let backlog = progress.backlog();
        metrics::gauge!("tessera_audit_indexer_lag_events").set(backlog as f64);
        if backlog >= step as i64 {
            let _ = nudge.try_send(());
        }
        if backlog > max_backlog {
            // Twice what was just committed: the backlog shrinks, in steps short enough that
            // the requests waiting behind the writer see a pause of a few milliseconds at most.
            if let Err(e) = catch_up(durable, (2 * n).max(step)) {
                tracing::warn!(error = %e, "indexing audit events failed; retrying");
            }
        }
    }
    progress.writer_alive.store(false, Ordering::SeqCst);
}

/// Run the calling thread under `SCHED_IDLE`: background indexing is work that can wait,
/// and under full load they yield the CPU to requests (a request thread that wakes up preempts
/// them at once, which a nice value alone does not promise). Failure only costs speed.
pub(crate) fn lower_priority() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy, ThreadPriority,
        ThreadSchedulePolicy,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
        tracing::debug!(error = ?e, "cannot lower the priority of an audit background thread");
    }
}
