//! The public's opinions (群众意见) gathered in a look-back round: about a unit or one of
//! its commitments, with an optional rating and the channel it came by. A citizen who
//! leaves their name and phone is a data subject of their own: what they gave is sealed
//! under a key kept for this opinion alone, and erasing it destroys that key.

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

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpinionState {
    pub unit: UnitId,
    /// The citizen's data is sealed in the log and its key not yet destroyed.
    pub citizen_readable: bool,
}

impl RecordOpinion {
    /// The unit the opinion is about, as `loaded` knows it.
    fn unit(&self, loaded: &Aggregates) -> Option<UnitId> {
        match self.about {
            OpinionAbout::Unit(unit) => Some(unit),
            OpinionAbout::Commitment(id) => loaded.commitments.get(&id).map(|c| c.unit),
        }
    }
}

impl Decision for RecordOpinion {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OpinionRecorded(e)
            if (self.round, &self.text, self.rating, self.channel, self.citizen.is_some())
                == (e.round, &e.text, e.rating, e.channel, e.citizen.is_some()))
    }

    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::round(self.round));
        if let OpinionAbout::Commitment(id) = self.about {
            needs.push(StreamId::commitment(id));
        }
        needs.extend(self.unit(loaded).map(StreamId::unit));
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![self.unit(loaded)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        if let Some(citizen) = &self.citizen {
            citizen.validate()?;
            if citizen.national_id.is_some() || citizen.birth_date.is_some() {
                return Err(DomainError::InvalidValue {
                    field: "citizen".to_owned(),
                    reason: "an opinion keeps a citizen's name and phone only".to_owned(),
                });
            }
        }
        absent(cx.loaded, StreamId::opinion(self.opinion))?;
        let round = cx.loaded.rounds.get(&self.round).ok_or(DomainError::RoundNotFound(self.round))?;
        if round.closed {
            return Err(DomainError::RoundClosed { round: self.round });
        }
        let commitment = match self.about {
            OpinionAbout::Commitment(id) => {
                cx.loaded.commitments.get(&id).ok_or(DomainError::CommitmentNotFound(id))?;
                Some(id)
            }
            OpinionAbout::Unit(_) => None,
        };
        let unit_id = self.unit(cx.loaded).expect("the commitment was found");
        let covered = unit(cx.loaded, unit_id)?;
        if !round.scope.covers(unit_id, &covered.region, &covered.industry) {
            return Err(DomainError::OutsideRound { unit: unit_id, round: self.round });
        }
        let citizen = self.citizen.as_ref().map(|c| cx.sealer.seal(self.opinion.into(), c));
        Ok(vec![PendingEvent::now(OpinionRecorded {
            opinion: self.opinion,
            round: self.round,
            unit: unit_id,
            commitment,
            text: self.text.clone(),
            rating: self.rating,
            channel: self.channel,
            citizen,
        })])
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

impl Fact for OpinionRecorded {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let opinion = OpinionState { unit: self.unit, citizen_readable: self.citizen.is_some() };
        state.opinions.insert(self.opinion, opinion);
    }
}

impl Fact for CitizenErased {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(opinion) = state.opinions.get_mut(&self.opinion) {
            opinion.citizen_readable = false;
        }
    }
}
