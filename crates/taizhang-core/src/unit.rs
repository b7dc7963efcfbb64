//! Units: the service windows (a hospital, a tax hall…), their commands, events, state
//! and decisions.

use serde::{Deserialize, Serialize};

use crate::decide::{absent, coded, PendingEvent};
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

/// Decides [`RegisterUnit`].
pub(crate) fn register_unit(c: &RegisterUnit, loaded: &Aggregates) -> Result<Vec<PendingEvent>, DomainError> {
    coded("unit", c.unit.0, c.code.as_ref())?;
    absent(loaded, StreamId::unit(c.unit))?;
    if let Some(parent) = c.parent {
        unit(loaded, parent)?;
    }
    Ok(vec![PendingEvent::now(UnitRegistered {
        unit: c.unit,
        name: c.name.clone(),
        industry: c.industry.clone(),
        region: c.region.clone(),
        parent: c.parent,
        code: c.code.clone(),
    })])
}

/// Decides [`RenameUnit`].
pub(crate) fn rename_unit(c: &RenameUnit, loaded: &Aggregates) -> Result<Vec<PendingEvent>, DomainError> {
    unit(loaded, c.unit)?;
    Ok(vec![PendingEvent::now(UnitRenamed { unit: c.unit, name: c.name.clone() })])
}

/// Decides [`MoveUnit`].
pub(crate) fn move_unit(c: &MoveUnit, loaded: &Aggregates) -> Result<Vec<PendingEvent>, DomainError> {
    unit(loaded, c.unit)?;
    if let Some(parent) = c.parent {
        unit(loaded, parent)?;
        let mut next = Some(parent);
        for _ in 0..MAX_UNIT_DEPTH {
            let Some(ancestor) = next else { break };
            if ancestor == c.unit {
                return Err(DomainError::UnitCycle { unit: c.unit, parent });
            }
            next = loaded.units.get(&ancestor).and_then(|u| u.parent);
        }
    }
    Ok(vec![PendingEvent::now(UnitMoved { unit: c.unit, region: c.region.clone(), parent: c.parent })])
}

/// Decides [`ReclassifyUnit`].
pub(crate) fn reclassify_unit(c: &ReclassifyUnit, loaded: &Aggregates) -> Result<Vec<PendingEvent>, DomainError> {
    let current = unit(loaded, c.unit)?;
    if current.industry == c.industry {
        return Err(DomainError::InvalidValue {
            field: "industry".to_owned(),
            reason: format!("the unit's industry is {} already", c.industry),
        });
    }
    Ok(vec![PendingEvent::now(UnitReclassified {
        unit: c.unit,
        industry: c.industry.clone(),
        reason: c.reason.clone(),
    })])
}
