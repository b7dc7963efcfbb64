//! Correction requests: a member asks the unit that recorded their service to fix their
//! own record (the recording organisation checks and fixes errors promptly). The unit's
//! clerk answers: accepted, once the record has been corrected by a correcting event of
//! its own (an amendment of the outing), or refused with a reason. A request not
//! answered by its due date is overdue, and reviewers list those.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::command::Decision;
use crate::decide::{absent, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// Days a unit has to answer a correction request.
pub const CORRECTION_ANSWER_DAYS: i64 = 15;

/// A member's request to correct their record, sent by the member themselves (with
/// their check-in PIN) or by a clerk for them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RequestCorrection {
    pub correction: CorrectionId,
    pub member: MemberId,
    /// The outing the request is about, if it is about one.
    pub outing: Option<OutingId>,
    /// What is wrong, in the member's words.
    pub text: Text,
    /// The digest of the PIN the member gave, when they send it themselves.
    pub pin: Option<PinDigest>,
}

/// The unit's answer: accepted (the record was corrected) or refused, with the reason.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AnswerCorrection {
    pub correction: CorrectionId,
    pub accepted: bool,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CorrectionRequested {
    pub correction: CorrectionId,
    pub member: MemberId,
    /// The unit that answers: the outing's, else the member's.
    pub unit: UnitId,
    pub outing: Option<OutingId>,
    /// The outing's stream version when the request was made: an acceptance needs a
    /// later one.
    pub outing_version: Option<u64>,
    pub text: Text,
    /// The last day to answer.
    #[schemars(schema_with = "crate::schema::date")]
    pub due: Date,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CorrectionAnswered {
    pub correction: CorrectionId,
    pub accepted: bool,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CorrectionState {
    pub unit: UnitId,
    pub outing: Option<OutingId>,
    pub outing_version: Option<u64>,
    pub answered: bool,
}

impl Decision for RequestCorrection {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CorrectionRequested(e)
            if (self.member, self.outing, &self.text) == (e.member, e.outing, &e.text))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::member(self.member));
        needs.extend(self.outing.map(StreamId::outing));
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        match self.outing {
            Some(outing) => vec![loaded.outings.get(&outing).map(|o| o.unit)],
            None => vec![loaded.members.get(&self.member).map(MemberState::current_unit)],
        }
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let loaded = cx.loaded;
        absent(loaded, StreamId::correction(self.correction))?;
        // A member asking for themselves proves it as at check-in, with one refusal for
        // an unknown member and a wrong PIN.
        if let Some(pin) = self.pin {
            if !loaded.members.get(&self.member).is_some_and(|m| !m.erased && m.pin == Some(pin)) {
                return Err(DomainError::CheckInRefused);
            }
        }
        let state = member(loaded, self.member)?;
        let (unit, outing_version) = match self.outing {
            None => (state.current_unit(), None),
            Some(id) => {
                let outing = loaded.outings.get(&id).ok_or(DomainError::OutingNotFound(id))?;
                let listed = outing.participants.iter().any(|p| p.member == self.member);
                if !listed && state.unit_on(outing.details.date) != Some(outing.unit) {
                    return Err(DomainError::MemberNotInUnit {
                        member: self.member,
                        unit: outing.unit,
                        date: outing.details.date,
                    });
                }
                (outing.unit, loaded.version(StreamId::outing(id)))
            }
        };
        Ok(vec![PendingEvent::now(CorrectionRequested {
            correction: self.correction,
            member: self.member,
            unit,
            outing: self.outing,
            outing_version,
            text: self.text.clone(),
            due: cx.today + time::Duration::days(CORRECTION_ANSWER_DAYS),
        })])
    }
}

impl Decision for AnswerCorrection {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CorrectionAnswered(e)
            if (self.correction, self.accepted, &self.reason) == (e.correction, e.accepted, &e.reason))
    }

    /// Once the request is loaded: its outing, whose correction an acceptance needs.
    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        if let Some(outing) = loaded.corrections.get(&self.correction).and_then(|c| c.outing) {
            needs.push(StreamId::outing(outing));
        }
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![loaded.corrections.get(&self.correction).map(|c| c.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let loaded = cx.loaded;
        let request =
            loaded.corrections.get(&self.correction).ok_or(DomainError::CorrectionNotFound(self.correction))?;
        if request.answered {
            return Err(DomainError::CorrectionAnswered { correction: self.correction });
        }
        if let (true, Some(outing)) = (self.accepted, request.outing) {
            if loaded.version(StreamId::outing(outing)) <= request.outing_version {
                return Err(DomainError::NotCorrectedYet { correction: self.correction, outing });
            }
        }
        Ok(vec![PendingEvent::now(CorrectionAnswered {
            correction: self.correction,
            accepted: self.accepted,
            reason: self.reason.clone(),
        })])
    }
}

impl Fact for CorrectionRequested {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let request = CorrectionState {
            unit: self.unit,
            outing: self.outing,
            outing_version: self.outing_version,
            answered: false,
        };
        state.corrections.insert(self.correction, request);
    }
}

impl Fact for CorrectionAnswered {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(request) = state.corrections.get_mut(&self.correction) {
            request.answered = true;
        }
    }
}
