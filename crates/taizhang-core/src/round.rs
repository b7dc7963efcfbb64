//! Look-back rounds (回头看): a reviewer opens a round with a name, the period it looks
//! back on and the units it covers, and closes it when the look-back is done; the
//! commitments' assessments and the public's opinions of the round are read within it.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::command::Decision;
use crate::decide::{absent, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// The most units a round named unit by unit covers.
pub const MAX_ROUND_UNITS: usize = 1_000;

/// Which units a round covers.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum RoundScope {
    /// Every unit.
    All,
    Region(Text),
    Industry(Text),
    /// These units.
    Units(Vec<UnitId>),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpenRound {
    pub round: RoundId,
    pub name: Text,
    pub period: Period,
    pub scope: RoundScope,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CloseRound {
    pub round: RoundId,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoundOpened {
    pub round: RoundId,
    pub name: Text,
    /// The first day the round looks back on.
    #[schemars(schema_with = "crate::schema::date")]
    pub first: Date,
    /// The last day it looks back on.
    #[schemars(schema_with = "crate::schema::date")]
    pub last: Date,
    pub scope: RoundScope,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoundClosed {
    pub round: RoundId,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RoundState {
    pub scope: RoundScope,
    pub closed: bool,
}

impl RoundScope {
    /// Refuses a list of units that is empty, too long, or names a unit that does not
    /// exist (the units must be among the streams `loaded`).
    pub(crate) fn check(&self, loaded: &Aggregates) -> Result<(), DomainError> {
        if let RoundScope::Units(units) = self {
            if units.is_empty() || units.len() > MAX_ROUND_UNITS {
                return Err(DomainError::InvalidValue {
                    field: "scope.units".to_owned(),
                    reason: format!("{} units named; a scope names 1 to {MAX_ROUND_UNITS}", units.len()),
                });
            }
            for id in units {
                unit(loaded, *id)?;
            }
        }
        Ok(())
    }

    /// The unit streams a command with this scope reads.
    pub(crate) fn needs(&self, needs: &mut Vec<StreamId>) {
        if let RoundScope::Units(units) = self {
            needs.extend(units.iter().take(MAX_ROUND_UNITS + 1).copied().map(StreamId::unit));
        }
    }

    /// Whether the round covers unit `id`, in `region` and `industry`.
    pub fn covers(&self, id: UnitId, region: &Text, industry: &Text) -> bool {
        match self {
            RoundScope::All => true,
            RoundScope::Region(r) => r == region,
            RoundScope::Industry(i) => i == industry,
            RoundScope::Units(units) => units.contains(&id),
        }
    }
}

impl Decision for OpenRound {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::RoundOpened(e)
            if (&self.name, self.period.first, self.period.last, &self.scope) == (&e.name, e.first, e.last, &e.scope))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        self.scope.needs(needs);
    }

    /// A round is a reviewer's, over many units: it writes no unit's records (the
    /// API lets reviewers alone send it).
    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        absent(cx.loaded, StreamId::round(self.round))?;
        self.scope.check(cx.loaded)?;
        Ok(vec![PendingEvent::now(RoundOpened {
            round: self.round,
            name: self.name.clone(),
            first: self.period.first,
            last: self.period.last,
            scope: self.scope.clone(),
        })])
    }
}

impl Decision for CloseRound {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::RoundClosed(e) if e.round == self.round)
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let round = cx.loaded.rounds.get(&self.round).ok_or(DomainError::RoundNotFound(self.round))?;
        if round.closed {
            return Err(DomainError::RoundClosed { round: self.round });
        }
        Ok(vec![PendingEvent::now(RoundClosed { round: self.round })])
    }
}

impl Fact for RoundOpened {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        state.rounds.insert(self.round, RoundState { scope: self.scope.clone(), closed: false });
    }
}

impl Fact for RoundClosed {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(round) = state.rounds.get_mut(&self.round) {
            round.closed = true;
        }
    }
}
