//! Payload shapes no longer written, and how each becomes the current shape: the
//! upcasters [`DomainEvent::decode_payload`] applies to old records.

use serde::{Deserialize, Serialize};

use crate::*;

/// `OutingRegistered` before outings recorded how many people they served.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingRegisteredV1 {
    pub outing: OutingId,
    pub unit: UnitId,
    pub details: OutingDetailsV1,
    pub participants: Vec<Participation>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingDetailsV1 {
    pub date: time::Date,
    pub span: TimeRange,
    pub place: Text,
    pub category: Text,
    pub description: Option<Text>,
}

/// Upcast: an outing recorded before the field existed served an unknown number of
/// people, which reports count as zero.
impl From<OutingRegisteredV1> for DomainEvent {
    fn from(v1: OutingRegisteredV1) -> Self {
        let d = v1.details;
        let details = OutingDetails {
            date: d.date,
            span: d.span,
            place: d.place,
            category: d.category,
            description: d.description,
            beneficiaries: 0,
        };
        OutingRegisteredV2 { outing: v1.outing, unit: v1.unit, details, participants: v1.participants }.into()
    }
}

// Registrations before records kept the clerks' own codes: upcast with no code (the
// id of an imported record was already its code's, which is all that was kept).

/// `UnitRegistered` before units kept their code.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UnitRegisteredV1 {
    pub unit: UnitId,
    pub name: Text,
    pub industry: Text,
    pub region: Text,
    pub parent: Option<UnitId>,
}

impl From<UnitRegisteredV1> for DomainEvent {
    fn from(v1: UnitRegisteredV1) -> Self {
        let UnitRegisteredV1 { unit, name, industry, region, parent } = v1;
        DomainEvent::UnitRegistered(UnitRegistered { unit, name, industry, region, parent, code: None })
    }
}

/// `MemberRegistered` before members kept their code.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MemberRegisteredV1 {
    pub member: MemberId,
    pub unit: UnitId,
    pub joined_on: time::Date,
    pub personal: SealedPersonal,
}

impl From<MemberRegisteredV1> for DomainEvent {
    fn from(v1: MemberRegisteredV1) -> Self {
        let MemberRegisteredV1 { member, unit, joined_on, personal } = v1;
        DomainEvent::MemberRegistered(MemberRegistered { member, unit, joined_on, personal, code: None })
    }
}

/// `OutingRegistered` before outings kept their code.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingRegisteredV2 {
    pub outing: OutingId,
    pub unit: UnitId,
    pub details: OutingDetails,
    pub participants: Vec<Participation>,
}

impl From<OutingRegisteredV2> for DomainEvent {
    fn from(v2: OutingRegisteredV2) -> Self {
        let OutingRegisteredV2 { outing, unit, details, participants } = v2;
        DomainEvent::OutingRegistered(OutingRegistered { outing, unit, details, participants, code: None })
    }
}
