//! The job table: one `watch` channel per job carrying its latest event, so any
//! number of `Watch` calls see the current state and every later change.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use semcom_proto::v1::{JobEvent, JobState};
use tokio::sync::watch;

#[derive(Clone)]
pub(crate) struct Jobs {
    inner: Arc<Mutex<Table>>,
    retained: usize,
}

struct Table {
    jobs: HashMap<String, watch::Sender<JobEvent>>,
    order: VecDeque<String>,
}

pub(crate) fn is_terminal(state: i32) -> bool {
    state == JobState::Delivered as i32 || state == JobState::Failed as i32
}

impl Jobs {
    pub fn new(retained: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Table { jobs: HashMap::new(), order: VecDeque::new() })),
            retained: retained.max(1),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create(&self, id: &str, symbols_total: u64) {
        let event =
            JobEvent { job_id: id.to_owned(), state: JobState::Queued as i32, symbols_total, ..Default::default() };
        let (tx, _) = watch::channel(event);
        let mut t = self.table();
        t.jobs.insert(id.to_owned(), tx);
        t.order.push_back(id.to_owned());
        // Forget the oldest finished jobs beyond the retention limit.
        while t.order.len() > self.retained {
            let Some(oldest) = t.order.front().cloned() else { break };
            let finished = t.jobs.get(&oldest).map(|tx| is_terminal(tx.borrow().state)).unwrap_or(true);
            if !finished {
                break;
            }
            t.order.pop_front();
            t.jobs.remove(&oldest);
        }
    }

    pub fn update(&self, id: &str, f: impl FnOnce(&mut JobEvent)) {
        if let Some(tx) = self.table().jobs.get(id) {
            tx.send_modify(f);
        }
    }

    pub fn subscribe(&self, id: &str) -> Option<watch::Receiver<JobEvent>> {
        self.table().jobs.get(id).map(|tx| tx.subscribe())
    }
}
