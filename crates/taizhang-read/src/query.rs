//! What a read asks for: which moment of knowledge, which service dates.

use serde::{Deserialize, Serialize};
use taizhang_core::Timestamp;
use taizhang_store::Position;
use time::Date;

use crate::ReadModel;

/// The two timelines of a read. `position` and `recorded_at` bound what the log knew
/// ("what did we know then"); `occurred_*` bound when the service happened ("service
/// done before"). Unset bounds mean "everything the model has".
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct AsOf {
    pub position: Option<Position>,
    pub recorded_at: Option<Timestamp>,
    pub occurred_from: Option<Date>,
    /// Exclusive: service on this date or later does not count.
    pub occurred_before: Option<Date>,
}

impl AsOf {
    pub fn now() -> Self {
        Self::default()
    }

    pub fn at_position(position: Position) -> Self {
        Self { position: Some(position), ..Self::default() }
    }

    /// The log position this read describes.
    pub fn position(&self, model: &ReadModel) -> Position {
        let mut p = model.position;
        if let Some(limit) = self.position {
            p = p.min(limit);
        }
        if let Some(at) = self.recorded_at {
            p = p.min(model.position_at(at));
        }
        p
    }

    /// This read with its position fixed at the one it describes in `model` now: reads
    /// made of it later, while the log grows, still describe the same moment.
    pub fn pinned(&self, model: &ReadModel) -> Self {
        Self { position: Some(self.position(model)), ..*self }
    }

    /// Whether a service date is inside the occurred-at bounds.
    pub fn admits_date(&self, date: Date) -> bool {
        self.occurred_from.is_none_or(|from| date >= from) && self.occurred_before.is_none_or(|before| date < before)
    }
}
