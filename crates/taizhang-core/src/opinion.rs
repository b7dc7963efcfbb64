//! The public's opinions (群众意见) gathered in a look-back round: about a unit or one of
//! its commitments, with an optional rating and the channel it came by. A citizen who
//! leaves their name and phone is a data subject of their own: what they gave is sealed
//! under a key kept for this opinion alone, and erasing it destroys that key.
//!
//! An opinion the unit records (heard by telephone, at a forum…) counts at once. One a
//! citizen leaves on the notice board without an account is held: it counts in the
//! round, and shows on the board, only once the unit's clerk or a reviewer accepts it;
//! a declined one keeps its reason.

use serde::{Deserialize, Serialize};

use crate::command::Decision;
use crate::decide::{absent, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// How satisfied the citizen said they were.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Rating {
    /// 满意
    Satisfied,
    /// 基本满意
    FairlySatisfied,
    /// 不满意
    Dissatisfied,
}

/// How an opinion reached the unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Channel {
    /// 公示栏: the notice board at the window.
    NoticeBoard,
    /// 网络: the web.
    Web,
    /// 电话
    Telephone,
    /// 座谈会: a forum meeting with the public.
    ForumMeeting,
    /// 监督员走访: a supervisor's visit.
    SupervisorVisit,
}

/// What an opinion is about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpinionAbout {
    Unit(UnitId),
    Commitment(CommitmentId),
}

/// Records an opinion within an open round, about a unit the round covers or one of
/// its commitments. `citizen`, when given, holds a name and optionally a phone.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecordOpinion {
    pub opinion: OpinionId,
    pub round: RoundId,
    pub about: OpinionAbout,
    pub text: Text,
    pub rating: Option<Rating>,
    pub channel: Channel,
    pub citizen: Option<PersonalData>,
}

/// Destroys the key of the citizen who left an opinion: their name and phone can no
/// longer be read; the opinion itself stays.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EraseCitizen {
    pub opinion: OpinionId,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpinionRecorded {
    pub opinion: OpinionId,
    pub round: RoundId,
    /// The unit it is about, or whose commitment it is about.
    pub unit: UnitId,
    pub commitment: Option<CommitmentId>,
    pub text: Text,
    pub rating: Option<Rating>,
    pub channel: Channel,
    /// The citizen's name and phone, sealed under this opinion's own key.
    pub citizen: Option<SealedPersonal>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CitizenErased {
    pub opinion: OpinionId,
}

/// Leaves an opinion on the notice board, as a citizen without an account: the opinion
/// as [`RecordOpinion`] would record it (by the web), held until it is reviewed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SubmitOpinion(pub RecordOpinion);

// Both read as what they wrap (`submit.opinion`, `submitted.round`): an opinion left on
// the board is an opinion, only held.
impl std::ops::Deref for SubmitOpinion {
    type Target = RecordOpinion;

    fn deref(&self) -> &RecordOpinion {
        &self.0
    }
}

impl std::ops::Deref for OpinionSubmitted {
    type Target = OpinionRecorded;

    fn deref(&self) -> &OpinionRecorded {
        &self.0
    }
}

/// Accepts a held opinion, so that it counts in its round (which must still be open)
/// and shows on the board, or declines it with a reason, erasing the name and phone
/// the citizen left with it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReviewOpinion {
    pub opinion: OpinionId,
    pub accept: bool,
    /// Why it was declined; required then.
    pub reason: Option<Text>,
}

/// An opinion left on the notice board, held for review: what it says is what a
/// recorded one says.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct OpinionSubmitted(pub OpinionRecorded);

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpinionReviewed {
    pub opinion: OpinionId,
    pub accepted: bool,
    /// Why it was declined.
    pub reason: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpinionState {
    pub unit: UnitId,
    pub round: RoundId,
    /// The citizen's data is sealed in the log and its key not yet destroyed.
    pub citizen_readable: bool,
    /// Left on the notice board and not reviewed yet.
    pub held: bool,
}

/// The unit an opinion about `about` is about, as `loaded` knows it.
fn unit_about(about: OpinionAbout, loaded: &Aggregates) -> Option<UnitId> {
    match about {
        OpinionAbout::Unit(unit) => Some(unit),
        OpinionAbout::Commitment(id) => loaded.commitments.get(&id).map(|c| c.unit),
    }
}

/// The streams an opinion about `about` in `round` is decided on.
fn opinion_needs(round: RoundId, about: OpinionAbout, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
    needs.push(StreamId::round(round));
    if let OpinionAbout::Commitment(id) = about {
        needs.push(StreamId::commitment(id));
    }
    needs.extend(unit_about(about, loaded).map(StreamId::unit));
}

/// What every new opinion must meet, however it came: a citizen who gave only a name
/// and phone, a new id, an open round covering the unit. Answers the unit and the
/// commitment it is about.
fn admit(
    cx: &Deciding<'_>,
    opinion: OpinionId,
    round_id: RoundId,
    about: OpinionAbout,
    citizen: Option<&PersonalData>,
) -> Result<(UnitId, Option<CommitmentId>), DomainError> {
    if let Some(citizen) = citizen {
        citizen.validate()?;
        if citizen.national_id.is_some() || citizen.birth_date.is_some() {
            return Err(DomainError::InvalidValue {
                field: "citizen".to_owned(),
                reason: "an opinion keeps a citizen's name and phone only".to_owned(),
            });
        }
    }
    absent(cx.loaded, StreamId::opinion(opinion))?;
    let round = cx.loaded.rounds.get(&round_id).ok_or(DomainError::RoundNotFound(round_id))?;
    if round.closed {
        return Err(DomainError::RoundClosed { round: round_id });
    }
    let commitment = match about {
        OpinionAbout::Commitment(id) => {
            cx.loaded.commitments.get(&id).ok_or(DomainError::CommitmentNotFound(id))?;
            Some(id)
        }
        OpinionAbout::Unit(_) => None,
    };
    let unit_id = unit_about(about, cx.loaded).expect("the commitment was found");
    let covered = unit(cx.loaded, unit_id)?;
    if !round.scope.covers(unit_id, &covered.region, &covered.industry) {
        return Err(DomainError::OutsideRound { unit: unit_id, round: round_id });
    }
    Ok((unit_id, commitment))
}

impl RecordOpinion {
    fn answers(&self, e: &OpinionRecorded) -> bool {
        (self.round, &self.text, self.rating, self.channel, self.citizen.is_some())
            == (e.round, &e.text, e.rating, e.channel, e.citizen.is_some())
    }

    /// The opinion as recorded, once admitted, its citizen sealed.
    fn recorded(&self, cx: &mut Deciding<'_>) -> Result<OpinionRecorded, DomainError> {
        let (unit, commitment) = admit(cx, self.opinion, self.round, self.about, self.citizen.as_ref())?;
        Ok(OpinionRecorded {
            opinion: self.opinion,
            round: self.round,
            unit,
            commitment,
            text: self.text.clone(),
            rating: self.rating,
            channel: self.channel,
            citizen: self.citizen.as_ref().map(|c| cx.sealer.seal(self.opinion.into(), c)),
        })
    }
}

impl Decision for RecordOpinion {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OpinionRecorded(e) if self.answers(e))
    }

    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        opinion_needs(self.round, self.about, loaded, needs);
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![unit_about(self.about, loaded)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        Ok(vec![PendingEvent::now(self.recorded(cx)?)])
    }
}

impl Decision for SubmitOpinion {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OpinionSubmitted(e) if self.0.answers(&e.0))
    }

    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        self.0.needs(loaded, needs);
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        self.0.units_written(loaded)
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        Ok(vec![PendingEvent::now(OpinionSubmitted(self.0.recorded(cx)?))])
    }
}

impl Decision for EraseCitizen {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CitizenErased(e) if e.opinion == self.opinion)
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![loaded.opinions.get(&self.opinion).map(|o| o.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let opinion = cx.loaded.opinions.get(&self.opinion).ok_or(DomainError::OpinionNotFound(self.opinion))?;
        if !opinion.citizen_readable {
            return Err(DomainError::NoCitizenData { opinion: self.opinion });
        }
        Ok(vec![PendingEvent::now(CitizenErased { opinion: self.opinion })])
    }
}

impl Decision for ReviewOpinion {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OpinionReviewed(e)
            if (e.opinion, e.accepted, &e.reason) == (self.opinion, self.accept, &self.reason))
    }

    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        // Accepting counts the opinion in its round, which must still be open.
        needs.extend(loaded.opinions.get(&self.opinion).map(|o| StreamId::round(o.round)));
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![loaded.opinions.get(&self.opinion).map(|o| o.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let opinion = cx.loaded.opinions.get(&self.opinion).ok_or(DomainError::OpinionNotFound(self.opinion))?;
        if !opinion.held {
            return Err(DomainError::OpinionNotHeld { opinion: self.opinion });
        }
        match (self.accept, &self.reason) {
            (true, Some(_)) => {
                return Err(DomainError::InvalidValue {
                    field: "reason".to_owned(),
                    reason: "a reason is given for declining an opinion, not for accepting one".to_owned(),
                })
            }
            (false, None) => return Err(DomainError::Empty { field: "reason".to_owned() }),
            _ => {}
        }
        if self.accept {
            let round = cx.loaded.rounds.get(&opinion.round).ok_or(DomainError::RoundNotFound(opinion.round))?;
            if round.closed {
                return Err(DomainError::RoundClosed { round: opinion.round });
            }
        }
        let mut events = vec![PendingEvent::now(OpinionReviewed {
            opinion: self.opinion,
            accepted: self.accept,
            reason: self.reason.clone(),
        })];
        // What was declined is kept about no one: the citizen's name and phone go with it.
        if !self.accept && opinion.citizen_readable {
            events.push(PendingEvent::now(CitizenErased { opinion: self.opinion }));
        }
        Ok(events)
    }
}

impl OpinionRecorded {
    fn fold_as(&self, held: bool, state: &mut Aggregates) {
        let opinion =
            OpinionState { unit: self.unit, round: self.round, citizen_readable: self.citizen.is_some(), held };
        state.opinions.insert(self.opinion, opinion);
    }
}

impl Fact for OpinionRecorded {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        self.fold_as(false, state);
    }
}

impl Fact for OpinionSubmitted {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        self.0.fold_as(true, state);
    }
}

impl Fact for OpinionReviewed {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(opinion) = state.opinions.get_mut(&self.opinion) {
            opinion.held = false;
        }
    }
}

impl Fact for CitizenErased {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(opinion) = state.opinions.get_mut(&self.opinion) {
            opinion.citizen_readable = false;
        }
    }
}
