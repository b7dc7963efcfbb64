//! A registration of a record that is registered already, read as the corrections it
//! asks for: what an import of changed rows offers. The log is append-only, so a
//! changed row cannot overwrite its record; it becomes the correcting commands
//! (rename, move, reclassify; correct personal data; amend an outing), each with its
//! reason, and the values each one changes, to be shown before anything is written.

use std::collections::BTreeMap;

use crate::{
    hours_text, Aggregates, AmendCommitment, AmendOuting, Command, CorrectPersonalData, DomainError, MemberId,
    MoveUnit, PersonalData, ReclassifyUnit, RenameUnit, StreamId, Text,
};

/// One value a correction changes: what the record reads now and what it will read.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub field: String,
    pub from: String,
    pub to: String,
}

/// A correcting command and the values it changes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Correction {
    pub command: Command,
    pub changes: Vec<Change>,
}

/// The corrections that make the record `register` names read as `register` states it,
/// as the record reads in `state` (its stream loaded) and, for a member, with the
/// personal data it reads now, `personal`: `Ok(None)` when the record is not registered
/// (the registration stands), no corrections when it reads so already. A difference no
/// correction makes (when a member joined, the unit of an outing, a member's unit, which
/// is a transfer with its own effective date) is an error naming the field.
pub fn corrections(
    register: &Command,
    state: &Aggregates,
    personal: Option<&PersonalData>,
    reason: &Text,
) -> Result<Option<Vec<Correction>>, DomainError> {
    let mut corrections = Vec::new();
    match register {
        Command::RegisterUnit(c) => {
            let Some(now) = state.units.get(&c.unit) else { return Ok(None) };
            if now.name != c.name {
                corrections.push(Correction {
                    command: Command::RenameUnit(RenameUnit { unit: c.unit, name: c.name.clone() }),
                    changes: vec![change("name", &now.name, &c.name)],
                });
            }
            if now.region != c.region || now.parent != c.parent {
                let mut changes = Vec::new();
                if now.region != c.region {
                    changes.push(change("region", &now.region, &c.region));
                }
                if now.parent != c.parent {
                    changes.push(Change { field: "parent".into(), from: optional(now.parent), to: optional(c.parent) });
                }
                let command = MoveUnit { unit: c.unit, region: c.region.clone(), parent: c.parent };
                corrections.push(Correction { command: Command::MoveUnit(command), changes });
            }
            if now.industry != c.industry {
                let command = ReclassifyUnit { unit: c.unit, industry: c.industry.clone(), reason: reason.clone() };
                corrections.push(Correction {
                    command: Command::ReclassifyUnit(command),
                    changes: vec![change("industry", &now.industry, &c.industry)],
                });
            }
        }
        Command::RegisterMember(c) => {
            let Some(now) = state.members.get(&c.member) else { return Ok(None) };
            if now.erased {
                return Err(DomainError::MemberErased { member: c.member });
            }
            let (joined_on, first_unit) = now.memberships[0];
            if joined_on != c.joined_on {
                return Err(not_corrected(
                    "joined_on",
                    format!("the member joined on {joined_on} by the log; the day a member joined is not corrected"),
                ));
            }
            if now.current_unit() != c.unit && first_unit != c.unit {
                return Err(not_corrected(
                    "unit",
                    format!(
                        "the member belongs to unit {} by the log; a move between units is a transfer on its own \
                         date (transferMember)",
                        now.current_unit()
                    ),
                ));
            }
            let Some(personal) = personal else { return Err(DomainError::MemberErased { member: c.member }) };
            let changes = personal_changes(personal, &c.personal);
            if !changes.is_empty() {
                let command =
                    CorrectPersonalData { member: c.member, personal: c.personal.clone(), reason: reason.clone() };
                corrections.push(Correction { command: Command::CorrectPersonalData(command), changes });
            }
        }
        Command::RegisterOuting(c) => {
            let Some(now) = state.outings.get(&c.outing) else { return Ok(None) };
            if now.voided {
                return Err(DomainError::OutingVoided { outing: c.outing });
            }
            if now.unit != c.unit {
                return Err(not_corrected(
                    "unit",
                    format!(
                        "the outing is unit {}'s by the log; an outing does not change units (void it and register \
                         it again)",
                        now.unit
                    ),
                ));
            }
            let (was, will) = (&now.details, &c.details);
            let mut changes = Vec::new();
            let mut differs = |field: &str, from: String, to: String| {
                if from != to {
                    changes.push(Change { field: field.to_owned(), from, to });
                }
            };
            differs("date", was.date.to_string(), will.date.to_string());
            differs("start", was.span.start.to_string(), will.span.start.to_string());
            differs("end", was.span.end.to_string(), will.span.end.to_string());
            differs("place", was.place.to_string(), will.place.to_string());
            differs("category", was.category.to_string(), will.category.to_string());
            differs("description", optional(was.description.as_ref()), optional(will.description.as_ref()));
            differs("beneficiaries", was.beneficiaries.to_string(), will.beneficiaries.to_string());
            // Each participant's hours, as the registration would resolve them.
            let hours_then: BTreeMap<MemberId, u32> =
                now.participants.iter().map(|p| (p.member, p.minutes.get())).collect();
            let hours_now: BTreeMap<MemberId, u32> =
                c.participants.iter().map(|p| (p.member, p.minutes_in(&c.details))).collect();
            for member in hours_then.keys().chain(hours_now.keys().filter(|m| !hours_then.contains_key(m))) {
                let hours =
                    |of: &BTreeMap<MemberId, u32>| of.get(member).map_or("—".into(), |m| hours_text(*m as u64));
                differs(&format!("member {member} hours"), hours(&hours_then), hours(&hours_now));
            }
            if !changes.is_empty() {
                let command = AmendOuting {
                    outing: c.outing,
                    details: c.details.clone(),
                    participants: c.participants.clone(),
                    reason: reason.clone(),
                    expected_version: state.version(StreamId::outing(c.outing)),
                };
                corrections.push(Correction { command: Command::AmendOuting(command), changes });
            }
        }
        Command::MakeCommitment(c) => {
            let Some(now) = state.commitments.get(&c.commitment) else { return Ok(None) };
            if now.withdrawn {
                return Err(DomainError::CommitmentWithdrawn { commitment: c.commitment });
            }
            let fixed =
                |field: &str, what: &str| not_corrected(field, format!("a commitment's {what} does not change"));
            if now.unit != c.unit {
                return Err(fixed("unit", "unit"));
            }
            if now.member != c.member {
                return Err(fixed("member", "member"));
            }
            if now.renews != c.renews {
                return Err(fixed("renews", "renewed items"));
            }
            let (was, will) = (&now.content, &c.content);
            let mut changes = Vec::new();
            let mut differs = |field: &str, from: String, to: String| {
                if from != to {
                    changes.push(Change { field: field.to_owned(), from, to });
                }
            };
            differs("category", was.category.to_string(), will.category.to_string());
            differs("text", was.text.to_string(), will.text.to_string());
            differs("target", optional(was.target.as_ref()), optional(will.target.as_ref()));
            differs("from", was.from.to_string(), will.from.to_string());
            differs("until", was.until.to_string(), will.until.to_string());
            differs("public", was.public.to_string(), will.public.to_string());
            if !changes.is_empty() {
                if now.assessed {
                    return Err(DomainError::CommitmentAssessed { commitment: c.commitment });
                }
                let command =
                    AmendCommitment { commitment: c.commitment, content: c.content.clone(), reason: reason.clone() };
                corrections.push(Correction { command: Command::AmendCommitment(command), changes });
            }
        }
        other => {
            return Err(DomainError::InvalidValue {
                field: "command".into(),
                reason: format!("{} registers nothing; only a registration is read as corrections", other.name()),
            })
        }
    }
    Ok(Some(corrections))
}

fn change(field: &str, from: &Text, to: &Text) -> Change {
    Change { field: field.to_owned(), from: from.to_string(), to: to.to_string() }
}

fn optional(value: Option<impl ToString>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

fn not_corrected(field: &str, reason: String) -> DomainError {
    DomainError::InvalidValue { field: field.to_owned(), reason }
}

fn personal_changes(now: &PersonalData, will: &PersonalData) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut differs = |field: &str, from: String, to: String| {
        if from != to {
            changes.push(Change { field: field.to_owned(), from, to });
        }
    };
    differs("name", now.name.to_string(), will.name.to_string());
    differs("national_id", optional(now.national_id.as_ref()), optional(will.national_id.as_ref()));
    differs("phone", optional(now.phone.as_ref()), optional(will.phone.as_ref()));
    differs("birth_date", optional(now.birth_date), optional(will.birth_date));
    changes
}
