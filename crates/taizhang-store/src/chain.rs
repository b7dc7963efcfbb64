//! End-to-end verification of the hash chain.

use crate::codec::{self, GENESIS_HASH};
use crate::{EventStore, Position, StoreError};

/// What a successful verification saw.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChainReport {
    pub events: u64,
    pub head_hash: [u8; 32],
}

/// Walks the log from the first record, checking that positions have no gaps, that
/// every hash chains to the one before, and that every record decodes. The error names
/// the first bad position. `progress` is called with each page's last position.
pub async fn verify<S: EventStore>(store: &S, mut progress: impl FnMut(Position)) -> Result<ChainReport, StoreError> {
    let mut prev = GENESIS_HASH;
    let mut expected = 1;
    loop {
        let page = store.read_raw(expected, 4096).await?;
        let Some(last) = page.last().map(|r| r.position) else { break };
        for record in &page {
            if record.position != expected {
                return Err(StoreError::Corrupt {
                    position: expected,
                    reason: format!("missing; the next record is at {}", record.position),
                });
            }
            let (hash, body) = codec::split_record(record)?;
            if codec::chain_hash(&prev, record.position, body) != hash {
                return Err(StoreError::Corrupt {
                    position: record.position,
                    reason: "hash does not match the record and the hash before it".into(),
                });
            }
            codec::decode(record)?;
            prev = hash;
            expected += 1;
        }
        progress(last);
    }
    Ok(ChainReport { events: expected - 1, head_hash: prev })
}
