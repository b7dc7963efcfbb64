//! The binary record format of the log.
//!
//! A record is `[format: u8][hash: 32 bytes][body]`, where `body` is a postcard-encoded
//! [`Envelope`] followed by the postcard-encoded payload. The payload is identified by
//! its type code and schema version in the envelope, never by the position of a variant
//! in a Rust enum, so variants can be reordered and old versions upcast on read.
//!
//! `hash = SHA-256(prev_hash ‖ position as 8 big-endian bytes ‖ body)`, with 32 zero
//! bytes before the first record. The previous hash is not stored: it is the hash of
//! the record before, which every reader of the chain has in hand.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use taizhang_core::*;
use uuid::Uuid;

use crate::{Position, RawRecord, RecordedEvent, StoreError};

/// The record layout written today.
pub const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 32;

/// The chain's starting point: the "previous hash" of position 1.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The envelope of one event as the log stores it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: Uuid,
    pub stream: StreamId,
    pub version: u64,
    pub recorded_at: Timestamp,
    /// `None` when the event occurred when it was recorded (saves 8 bytes a record).
    pub occurred_at: Option<Timestamp>,
    pub actor: Actor,
    pub command_id: Uuid,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub type_code: u16,
    pub schema_version: u16,
}

/// Computes the hash that chains a record body after `prev`.
pub fn chain_hash(prev: &[u8; 32], position: Position, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(position.to_be_bytes());
    h.update(body);
    h.finalize().into()
}

/// Builds the record bytes for an envelope and an encoded payload, chained after `prev`.
pub fn encode_record(prev: &[u8; 32], position: Position, envelope: &Envelope, payload: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let mut out = Vec::with_capacity(HEADER_LEN + 96 + payload.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&[0; 32]);
    let out = postcard::to_extend(envelope, out).expect("encoding into a Vec cannot fail");
    let mut out = out;
    out.extend_from_slice(payload);
    let hash = chain_hash(prev, position, &out[HEADER_LEN..]);
    out[1..HEADER_LEN].copy_from_slice(&hash);
    (out, hash)
}

/// The stored hash and the hashed body of a record, after checking its format byte.
pub fn split_record(record: &RawRecord) -> Result<([u8; 32], &[u8]), StoreError> {
    split_bytes(record.position, &record.bytes)
}

pub(crate) fn split_bytes(position: Position, bytes: &[u8]) -> Result<([u8; 32], &[u8]), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt { position, reason: reason.to_owned() };
    match bytes.first() {
        Some(&FORMAT_V1) if bytes.len() > HEADER_LEN => {}
        Some(&FORMAT_V1) => return Err(corrupt("record is truncated")),
        Some(other) => return Err(corrupt(&format!("unknown record format {other}"))),
        None => return Err(corrupt("record is empty")),
    }
    let hash = bytes[1..HEADER_LEN].try_into().expect("32 bytes");
    Ok((hash, &bytes[HEADER_LEN..]))
}

/// The envelope of a record and its still-encoded payload.
pub fn decode_envelope(record: &RawRecord) -> Result<(Envelope, &[u8]), StoreError> {
    envelope_of(record.position, &record.bytes)
}

pub(crate) fn envelope_of(position: Position, bytes: &[u8]) -> Result<(Envelope, &[u8]), StoreError> {
    let (_, body) = split_bytes(position, bytes)?;
    postcard::take_from_bytes::<Envelope>(body)
        .map_err(|e| StoreError::Corrupt { position, reason: format!("envelope: {e}") })
}

/// Decodes a whole record, upcasting an old payload version to the current one.
pub fn decode(record: &RawRecord) -> Result<RecordedEvent, StoreError> {
    decode_bytes(record.position, &record.bytes)
}

/// [`decode`] for a record's bytes borrowed from wherever they lie (a page, say).
pub fn decode_bytes(position: Position, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    let (hash, _) = split_bytes(position, bytes)?;
    let (env, payload) = envelope_of(position, bytes)?;
    let payload = decode_payload(env.type_code, env.schema_version, payload)
        .map_err(|reason| StoreError::Corrupt { position, reason })?;
    Ok(RecordedEvent {
        position,
        event_id: env.event_id,
        stream: env.stream,
        version: env.version,
        recorded_at: env.recorded_at,
        occurred_at: env.occurred_at.unwrap_or(env.recorded_at),
        actor: env.actor,
        command_id: env.command_id,
        correlation_id: env.correlation_id,
        causation_id: env.causation_id,
        stored_schema_version: env.schema_version,
        hash,
        payload,
    })
}

/// Encodes a payload in its current schema version.
pub fn encode_payload(event: &DomainEvent) -> Vec<u8> {
    fn enc<T: Serialize>(v: &T) -> Vec<u8> {
        postcard::to_stdvec(v).expect("encoding into a Vec cannot fail")
    }
    match event {
        DomainEvent::UnitRegistered(e) => enc(e),
        DomainEvent::UnitRenamed(e) => enc(e),
        DomainEvent::UnitMoved(e) => enc(e),
        DomainEvent::UnitReclassified(e) => enc(e),
        DomainEvent::MemberRegistered(e) => enc(e),
        DomainEvent::PersonalDataCorrected(e) => enc(e),
        DomainEvent::MemberTransferred(e) => enc(e),
        DomainEvent::MemberErased(e) => enc(e),
        DomainEvent::ServiceBooked(e) => enc(e),
        DomainEvent::ServiceReleased(e) => enc(e),
        DomainEvent::EvaluationRecorded(e) => enc(e),
        DomainEvent::OutingRegistered(e) => enc(e),
        DomainEvent::OutingAmended(e) => enc(e),
        DomainEvent::OutingVoided(e) => enc(e),
        DomainEvent::OutingVerified(e) => enc(e),
    }
}

/// Decodes a payload of any known type and version into the current [`DomainEvent`].
pub fn decode_payload(type_code: u16, schema_version: u16, bytes: &[u8]) -> Result<DomainEvent, String> {
    fn dec<'a, T: Deserialize<'a> + Into<DomainEvent>>(bytes: &'a [u8]) -> Result<DomainEvent, String> {
        match postcard::take_from_bytes::<T>(bytes) {
            Ok((v, [])) => Ok(v.into()),
            Ok((_, rest)) => Err(format!("{} trailing payload bytes", rest.len())),
            Err(e) => Err(format!("payload: {e}")),
        }
    }
    match (type_code, schema_version) {
        (1, 1) => dec::<legacy::UnitRegisteredV1>(bytes),
        (1, 2) => dec::<UnitRegistered>(bytes),
        (2, 1) => dec::<UnitRenamed>(bytes),
        (3, 1) => dec::<UnitMoved>(bytes),
        (4, 1) => dec::<UnitReclassified>(bytes),
        (10, 1) => dec::<legacy::MemberRegisteredV1>(bytes),
        (10, 2) => dec::<MemberRegistered>(bytes),
        (11, 1) => dec::<MemberTransferred>(bytes),
        (12, 1) => dec::<MemberErased>(bytes),
        (13, 1) => dec::<ServiceBooked>(bytes),
        (14, 1) => dec::<ServiceReleased>(bytes),
        (15, 1) => dec::<EvaluationRecorded>(bytes),
        (16, 1) => dec::<PersonalDataCorrected>(bytes),
        (20, 1) => dec::<legacy::OutingRegisteredV1>(bytes),
        (20, 2) => dec::<legacy::OutingRegisteredV2>(bytes),
        (20, 3) => dec::<OutingRegistered>(bytes),
        (21, 1) => dec::<OutingAmended>(bytes),
        (22, 1) => dec::<OutingVoided>(bytes),
        (23, 1) => dec::<OutingVerified>(bytes),
        (code, version) => Err(format!("unknown event type {code} version {version}")),
    }
}

/// Payload shapes no longer written, and how each becomes the current shape.
pub mod legacy {
    use super::*;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_current_event_type_round_trips_and_has_a_decoder() {
        for &(name, code, version) in DomainEvent::TYPES {
            let err = decode_payload(code, version, &[]).unwrap_err();
            assert!(!err.starts_with("unknown event type"), "{name} has no decoder for its current version");
        }
        assert!(decode_payload(99, 1, &[]).unwrap_err().starts_with("unknown event type"));
    }

    /// Registrations written before records kept their code read as registrations
    /// without one, every other field as it was.
    #[test]
    fn registrations_from_before_codes_read_with_no_code() {
        let text = |s: &str| Text::parse("t", s).unwrap();
        let unit = legacy::UnitRegisteredV1 {
            unit: UnitId::new(),
            name: text("十堰市人民医院"),
            industry: text("医疗卫生"),
            region: text("茅箭区"),
            parent: None,
        };
        let bytes = postcard::to_stdvec(&unit).unwrap();
        let DomainEvent::UnitRegistered(read) = decode_payload(1, 1, &bytes).unwrap() else { panic!("a unit") };
        assert_eq!((read.unit, read.name, read.code), (unit.unit, unit.name, None));

        let member = legacy::MemberRegisteredV1 {
            member: MemberId::new(),
            unit: unit.unit,
            joined_on: time::macros::date!(2011 - 01 - 01),
            personal: SealedPersonal(vec![1, 2, 3]),
        };
        let bytes = postcard::to_stdvec(&member).unwrap();
        let DomainEvent::MemberRegistered(read) = decode_payload(10, 1, &bytes).unwrap() else { panic!("a member") };
        assert_eq!((read.member, read.personal, read.code), (member.member, member.personal, None));

        let span =
            TimeRange::new("s", ClockTime::from_minutes(8 * 60).unwrap(), ClockTime::from_minutes(10 * 60).unwrap())
                .unwrap();
        let details = OutingDetails {
            date: time::macros::date!(2011 - 06 - 04),
            span,
            place: text("武当路社区"),
            category: text("义诊"),
            description: None,
            beneficiaries: 30,
        };
        let outing =
            legacy::OutingRegisteredV2 { outing: OutingId::new(), unit: unit.unit, details, participants: vec![] };
        let bytes = postcard::to_stdvec(&outing).unwrap();
        let DomainEvent::OutingRegistered(read) = decode_payload(20, 2, &bytes).unwrap() else { panic!("an outing") };
        assert_eq!((read.outing, read.details, read.code), (outing.outing, outing.details, None));
    }
}
