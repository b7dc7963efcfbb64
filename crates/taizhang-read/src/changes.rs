//! What each event changed of what a star board reads: the members and units whose
//! assessment it may change, the units whose members or whose place in a scope it may
//! change (who is on a board), or everything. A
//! [`ChangeJournal`] keeps them for the events applied lately, so that a board kept at
//! the head ([`crate::board::KeptBoards`]) assesses again only those an event touched.
//!
//! The rule is one of completeness, not precision: an event that may change a member's
//! or a unit's assessment under any policy names them (naming more costs a little
//! work, naming fewer would show a wrong board). What an assessment reads is in
//! [`crate::eligibility`]: a member's own history, outings, commitments, ballots and
//! reviews; a unit's outings, members, commitments (its members' included), weekly
//! summaries, ballots and reviews; the evaluations opened for the half-year.

use std::collections::{HashSet, VecDeque};

use taizhang_core::*;
use taizhang_store::{Position, RecordedEvent};

use crate::ReadModel;

/// One thing an event changed, for boards.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Touch {
    /// The member's assessment may have changed.
    Member(MemberId),
    /// The unit's assessment may have changed.
    Unit(UnitId),
    /// Who belongs to the unit may have changed (a member joined or left it).
    Membership(UnitId),
    /// Which units a scope holds may have changed (a unit was registered, or moved to
    /// another region or industry).
    Scope,
    /// Any assessment may have changed (an evaluation opened or closed).
    Everything,
}

/// What changed since a position, gathered from the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub members: HashSet<MemberId>,
    pub units: HashSet<UnitId>,
    pub memberships: HashSet<UnitId>,
    pub scope: bool,
    pub everything: bool,
}

impl Changes {
    fn add(&mut self, touch: Touch) {
        match touch {
            Touch::Member(m) => {
                self.members.insert(m);
            }
            Touch::Unit(u) => {
                self.units.insert(u);
            }
            Touch::Membership(u) => {
                self.memberships.insert(u);
            }
            Touch::Scope => self.scope = true,
            Touch::Everything => self.everything = true,
        }
    }
}

/// Touches kept by the journal: about 8 MB, some minutes of the city registering at
/// full speed, days of an ordinary June. A board kept from before the oldest is
/// assessed whole again.
const JOURNAL_TOUCHES: usize = 1 << 18;

/// The touches of the events applied since the journal began (or since the oldest it
/// still keeps), in log order.
#[derive(Debug, Default)]
pub struct ChangeJournal {
    touches: VecDeque<(Position, Touch)>,
    /// Changes after this position are all in the journal.
    complete_after: Position,
}

impl ChangeJournal {
    /// A journal of the changes after `position` (the model's, when it starts).
    pub fn starting_at(position: Position) -> Self {
        Self { touches: VecDeque::new(), complete_after: position }
    }

    /// Records what `event`, just applied to `model`, touched.
    pub fn record(&mut self, model: &ReadModel, event: &RecordedEvent) {
        touched_by(model, event, &mut |touch| {
            if self.touches.len() == JOURNAL_TOUCHES {
                if let Some((position, _)) = self.touches.pop_front() {
                    // What was at that position is no longer whole.
                    self.complete_after = self.complete_after.max(position);
                }
            }
            self.touches.push_back((event.position, touch));
        });
    }

    /// What changed after `since`, or `None` when the journal no longer reaches back
    /// that far.
    pub fn since(&self, since: Position) -> Option<Changes> {
        if since < self.complete_after {
            return None;
        }
        let first = self.touches.partition_point(|(p, _)| *p <= since);
        let mut changes = Changes::default();
        self.touches.range(first..).for_each(|(_, touch)| changes.add(*touch));
        Some(changes)
    }
}

/// Calls `touch` with what `event`, already applied to `model`, changed for boards.
/// Exhaustive: a new kind of event must say what it touches.
pub fn touched_by(model: &ReadModel, event: &RecordedEvent, touch: &mut dyn FnMut(Touch)) {
    let position = event.position;
    let rated = |touch: &mut dyn FnMut(Touch), rated: &Rated| match *rated {
        Rated::Member(m) => touch(Touch::Member(m)),
        Rated::Unit(u) => touch(Touch::Unit(u)),
    };
    // An outing's unit and everyone it ever listed (a correction may have taken one
    // off, whose hours then change too).
    let outing = |touch: &mut dyn FnMut(Touch), outing: OutingId| {
        if let Some(view) = model.outing(outing, position) {
            touch(Touch::Unit(view.unit));
            view.every_participant().for_each(|m| touch(Touch::Member(m)));
        }
    };
    // A commitment's unit and its member, if it is a member's.
    let commitment = |touch: &mut dyn FnMut(Touch), commitment: CommitmentId| {
        if let Some(c) = model.commitments.get(&commitment) {
            touch(Touch::Unit(c.unit));
            c.member.into_iter().for_each(|m| touch(Touch::Member(m)));
        }
    };
    // A member and every unit they ever belonged to, with its members.
    let member = |touch: &mut dyn FnMut(Touch), member: MemberId| {
        touch(Touch::Member(member));
        let units = model.members.get(&member).map(|h| h.memberships.as_slice()).unwrap_or_default();
        for m in units {
            touch(Touch::Unit(m.unit));
            touch(Touch::Membership(m.unit));
        }
    };
    match &event.payload {
        DomainEvent::UnitRegistered(e) => {
            touch(Touch::Unit(e.unit));
            touch(Touch::Scope);
        }
        DomainEvent::UnitRenamed(e) => touch(Touch::Unit(e.unit)),
        DomainEvent::UnitMoved(e) => {
            touch(Touch::Unit(e.unit));
            touch(Touch::Scope);
        }
        DomainEvent::UnitReclassified(e) => {
            touch(Touch::Unit(e.unit));
            touch(Touch::Scope);
        }
        DomainEvent::MemberRegistered(e) => member(touch, e.member),
        DomainEvent::MemberTransferred(e) => member(touch, e.member),
        DomainEvent::MemberErased(e) => member(touch, e.member),
        DomainEvent::PersonalDataCorrected(e) => touch(Touch::Member(e.member)),
        DomainEvent::EvaluationRecorded(e) => touch(Touch::Member(e.member)),
        DomainEvent::CommitmentMade(e) => {
            commitment(touch, e.commitment);
            e.renews.iter().for_each(|renewed| commitment(touch, *renewed));
        }
        DomainEvent::CommitmentAmended(e) => commitment(touch, e.commitment),
        DomainEvent::CommitmentWithdrawn(e) => commitment(touch, e.commitment),
        DomainEvent::CommitmentAssessed(e) => commitment(touch, e.commitment),
        DomainEvent::SummarySubmitted(e) => touch(Touch::Unit(e.unit)),
        DomainEvent::SummaryCommented(e) => {
            model.summaries.get(&e.summary).into_iter().for_each(|s| touch(Touch::Unit(s.unit)))
        }
        DomainEvent::EvaluationOpened(_) | DomainEvent::EvaluationClosed(_) => touch(Touch::Everything),
        DomainEvent::LeaderReviewed(e) => rated(touch, &e.rated),
        DomainEvent::BallotCast(e) => rated(touch, &e.rated),
        DomainEvent::OutingRegistered(e) => outing(touch, e.outing),
        DomainEvent::OutingAmended(e) => outing(touch, e.outing),
        DomainEvent::OutingVoided(e) => outing(touch, e.outing),
        DomainEvent::OutingVerified(e) => outing(touch, e.outing),
        DomainEvent::CheckInOpened(e) => outing(touch, e.outing),
        DomainEvent::MemberCheckedIn(e) => outing(touch, e.outing),
        DomainEvent::MemberCheckedOut(e) => outing(touch, e.outing),
        // Read by no assessment: the calendar, the look-back rounds and the public's
        // opinions, certificates, check-in PINs and cards, correction requests (a
        // correction made is an amendment), published boards and recognitions.
        DomainEvent::ServiceBooked(_)
        | DomainEvent::ServiceReleased(_)
        | DomainEvent::RoundOpened(_)
        | DomainEvent::RoundClosed(_)
        | DomainEvent::OpinionRecorded(_)
        | DomainEvent::OpinionSubmitted(_)
        | DomainEvent::OpinionReviewed(_)
        | DomainEvent::CitizenErased(_)
        | DomainEvent::CertificateIssued(_)
        | DomainEvent::CertificateRevoked(_)
        | DomainEvent::CheckInPinSet(_)
        | DomainEvent::PublicCardSet(_)
        | DomainEvent::CorrectionRequested(_)
        | DomainEvent::CorrectionAnswered(_)
        | DomainEvent::BoardPublished(_)
        | DomainEvent::RecognitionNominated(_)
        | DomainEvent::ObjectionRaised(_)
        | DomainEvent::ObjectionAnswered(_)
        | DomainEvent::RecognitionDecided(_)
        | DomainEvent::RecognitionRevoked(_) => {}
    }
}
