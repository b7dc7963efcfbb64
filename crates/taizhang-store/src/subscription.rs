use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::watch;

use crate::{EventStore, Position, RecordedEvent, StoreError};

/// Events to fetch per read while catching up.
const PAGE: usize = 1024;

/// A feed of every event from a position on: it reads the log while behind and then
/// waits on the durable head. Catch-up and live are the same loop over the same log,
/// so the switch between them can neither skip nor repeat an event.
pub struct Subscription<S: EventStore> {
    store: Arc<S>,
    next: Position,
    head: watch::Receiver<Position>,
    buffer: VecDeque<RecordedEvent>,
}

impl<S: EventStore> Subscription<S> {
    /// Starts at `from` (inclusive); position 1 is the beginning of the log.
    pub fn new(store: Arc<S>, from: Position) -> Self {
        let head = store.watch_head();
        Self { store, next: from.max(1), head, buffer: VecDeque::new() }
    }

    /// The position of the next event this subscription will yield.
    pub fn next_position(&self) -> Position {
        self.next
    }

    /// The next event, waiting for one to be appended if the feed is at the head.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.next = event.position + 1;
                return Ok(event);
            }
            let head = *self.head.borrow_and_update();
            if head >= self.next {
                self.buffer.extend(self.store.read_all(self.next, PAGE).await?);
                if !self.buffer.is_empty() {
                    continue;
                }
            }
            if self.head.changed().await.is_err() {
                return Err(StoreError::Backend("the store was closed".into()));
            }
        }
    }
}
