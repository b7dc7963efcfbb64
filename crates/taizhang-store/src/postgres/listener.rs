//! Following the head: `LISTEN` for the writers' notifications, and a poll of the
//! last position in case one is missed.

use crate::{Position, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::*;

pub(super) async fn last_position(client: &Client, s: &str) -> Result<Position, StoreError> {
    let row = client.query_one(&format!("SELECT coalesce(max(position), 0) FROM {s}.events"), &[]).await.map_err(pg)?;
    Ok(row.get::<_, i64>(0) as Position)
}

pub(super) fn raise(head: &watch::Sender<Position>, position: Position) {
    head.send_if_modified(|h| {
        let moved = position > *h;
        *h = (*h).max(position);
        moved
    });
}

/// Learns of other servers' commits: `LISTEN`, with a poll of the last position as the
/// fallback.
pub(super) async fn listen(url: String, s: String, head: Arc<watch::Sender<Position>>, poll_every: Duration) {
    loop {
        if let Ok((client, mut connection)) = tokio_postgres::connect(&url, NoTls).await {
            let (notes_tx, mut notes) = mpsc::unbounded_channel();
            let pump = tokio::spawn(async move {
                while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    match message {
                        Ok(AsyncMessage::Notification(n)) => {
                            let _ = notes_tx.send(n.payload().parse::<Position>().unwrap_or(0));
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
            if client.batch_execute(&format!("LISTEN taizhang_{s}")).await.is_ok() {
                let mut poll = tokio::time::interval(poll_every);
                loop {
                    tokio::select! {
                        note = notes.recv() => match note {
                            Some(position) => raise(&head, position),
                            None => break,
                        },
                        _ = poll.tick() => match last_position(&client, &s).await {
                            Ok(position) => raise(&head, position),
                            Err(_) => break,
                        },
                    }
                }
            }
            pump.abort();
        }
        // Connection lost: try again shortly.
        tokio::time::sleep(POLL_EVERY).await;
    }
}
