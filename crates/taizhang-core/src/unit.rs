//! Units: the service windows (a hospital, a tax hall…), their commands, events, state
//! and decisions.

use serde::{Deserialize, Serialize};

use crate::command::Decision;
use crate::decide::{absent, coded, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RegisterUnit {
    pub unit: UnitId,
    pub name: Text,
    pub industry: Text,
    pub region: Text,
    pub parent: Option<UnitId>,
    /// The code the unit is known by in the clerks' own records (`SY-0001`), if any.
    pub code: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RenameUnit {
    pub unit: UnitId,
    pub name: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MoveUnit {
    pub unit: UnitId,
    pub region: Text,
    pub parent: Option<UnitId>,
}

/// A unit registered under the wrong industry, or one that changed its line of work.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReclassifyUnit {
    pub unit: UnitId,
    pub industry: Text,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnitRegistered {
    pub unit: UnitId,
    pub name: Text,
    pub industry: Text,
    pub region: Text,
    pub parent: Option<UnitId>,
    /// The unit's own code (`SY-0001`); the unit id is then the code's.
    #[serde(default)]
    pub code: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnitRenamed {
    pub unit: UnitId,
    pub name: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnitMoved {
    pub unit: UnitId,
    pub region: Text,
    pub parent: Option<UnitId>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnitReclassified {
    pub unit: UnitId,
    pub industry: Text,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnitState {
    pub name: Text,
    pub industry: Text,
    pub region: Text,
    pub parent: Option<UnitId>,
}

/// Deepest unit hierarchy walked when checking for cycles.
pub(crate) const MAX_UNIT_DEPTH: usize = 64;

pub(crate) fn unit(loaded: &Aggregates, id: UnitId) -> Result<&UnitState, DomainError> {
    loaded.units.get(&id).ok_or(DomainError::UnitNotFound(id))
}

impl Decision for RegisterUnit {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::UnitRegistered(e)
            if (&self.name, &self.industry, &self.region, self.parent, &self.code) == (&e.name, &e.industry, &e.region, e.parent, &e.code))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.extend(self.parent.map(StreamId::unit));
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        coded("unit", self.unit.0, self.code.as_ref())?;
        absent(cx.loaded, StreamId::unit(self.unit))?;
        if let Some(parent) = self.parent {
            unit(cx.loaded, parent)?;
        }
        Ok(vec![PendingEvent::now(UnitRegistered {
            unit: self.unit,
            name: self.name.clone(),
            industry: self.industry.clone(),
            region: self.region.clone(),
            parent: self.parent,
            code: self.code.clone(),
        })])
    }
}

impl Decision for RenameUnit {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::UnitRenamed(e) if (self.unit, &self.name) == (e.unit, &e.name))
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        unit(cx.loaded, self.unit)?;
        Ok(vec![PendingEvent::now(UnitRenamed { unit: self.unit, name: self.name.clone() })])
    }
}

impl Decision for MoveUnit {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::UnitMoved(e) if (self.unit, &self.region, self.parent) == (e.unit, &e.region, e.parent))
    }

    /// The new ancestors up to the root, to refuse a cycle.
    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        let mut next = self.parent;
        for _ in 0..MAX_UNIT_DEPTH {
            let Some(ancestor) = next else { break };
            needs.push(StreamId::unit(ancestor));
            if ancestor == self.unit {
                break;
            }
            next = loaded.units.get(&ancestor).and_then(|u| u.parent);
        }
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        unit(cx.loaded, self.unit)?;
        if let Some(parent) = self.parent {
            unit(cx.loaded, parent)?;
            let mut next = Some(parent);
            for _ in 0..MAX_UNIT_DEPTH {
                let Some(ancestor) = next else { break };
                if ancestor == self.unit {
                    return Err(DomainError::UnitCycle { unit: self.unit, parent });
                }
                next = cx.loaded.units.get(&ancestor).and_then(|u| u.parent);
            }
        }
        Ok(vec![PendingEvent::now(UnitMoved { unit: self.unit, region: self.region.clone(), parent: self.parent })])
    }
}

impl Decision for ReclassifyUnit {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::UnitReclassified(e)
            if (self.unit, &self.industry, &self.reason) == (e.unit, &e.industry, &e.reason))
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let current = unit(cx.loaded, self.unit)?;
        if current.industry == self.industry {
            return Err(DomainError::InvalidValue {
                field: "industry".to_owned(),
                reason: format!("the unit's industry is {} already", self.industry),
            });
        }
        Ok(vec![PendingEvent::now(UnitReclassified {
            unit: self.unit,
            industry: self.industry.clone(),
            reason: self.reason.clone(),
        })])
    }
}

/// Folds an event into the state of unit `id`, if it was loaded.
fn change(state: &mut Aggregates, id: UnitId, fold: impl FnOnce(&mut UnitState)) {
    if let Some(loaded) = state.units.get_mut(&id) {
        fold(loaded);
    }
}

impl Fact for UnitRegistered {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let unit = UnitState {
            name: self.name.clone(),
            industry: self.industry.clone(),
            region: self.region.clone(),
            parent: self.parent,
        };
        state.units.insert(self.unit, unit);
    }
}

impl Fact for UnitRenamed {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.unit, |u| u.name = self.name.clone());
    }
}

impl Fact for UnitMoved {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.unit, |u| {
            u.region = self.region.clone();
            u.parent = self.parent;
        });
    }
}

impl Fact for UnitReclassified {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.unit, |u| u.industry = self.industry.clone());
    }
}
