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

/// The binary payload format: postcard, the whole input read.
struct Postcard;

impl PayloadFormat for Postcard {
    fn encode<T: Serialize>(&self, value: &T) -> Vec<u8> {
        postcard::to_stdvec(value).expect("encoding into a Vec cannot fail")
    }

    fn decode<'a, T: Deserialize<'a> + Into<DomainEvent>>(&self, bytes: &'a [u8]) -> Result<DomainEvent, String> {
        match postcard::take_from_bytes::<T>(bytes) {
            Ok((v, [])) => Ok(v.into()),
            Ok((_, rest)) => Err(format!("{} trailing payload bytes", rest.len())),
            Err(e) => Err(format!("payload: {e}")),
        }
    }
}

/// Encodes a payload in its current schema version.
pub fn encode_payload(event: &DomainEvent) -> Vec<u8> {
    event.encode_payload(&Postcard)
}

/// Decodes a payload of any known type and version into the current [`DomainEvent`].
pub fn decode_payload(type_code: u16, schema_version: u16, bytes: &[u8]) -> Result<DomainEvent, String> {
    DomainEvent::decode_payload(&Postcard, type_code, schema_version, bytes)
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
        let unit = taizhang_core::legacy::UnitRegisteredV1 {
            unit: UnitId::new(),
            name: text("十堰市人民医院"),
            industry: text("医疗卫生"),
            region: text("茅箭区"),
            parent: None,
        };
        let bytes = postcard::to_stdvec(&unit).unwrap();
        let DomainEvent::UnitRegistered(read) = decode_payload(1, 1, &bytes).unwrap() else { panic!("a unit") };
        assert_eq!((read.unit, read.name, read.code), (unit.unit, unit.name, None));

        let member = taizhang_core::legacy::MemberRegisteredV1 {
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
        let outing = taizhang_core::legacy::OutingRegisteredV2 {
            outing: OutingId::new(),
            unit: unit.unit,
            details,
            participants: vec![],
        };
        let bytes = postcard::to_stdvec(&outing).unwrap();
        let DomainEvent::OutingRegistered(read) = decode_payload(20, 2, &bytes).unwrap() else { panic!("an outing") };
        assert_eq!((read.outing, read.details, read.code), (outing.outing, outing.details, None));
    }
}
