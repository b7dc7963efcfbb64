//! Personal data of a member. It never enters the log in clear: the application layer
//! seals it under the member's own key (see `taizhang-store`'s key store) and the log
//! holds only [`SealedPersonal`].

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{DomainError, Text};

/// What a member's record says about the person. Validated before sealing.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PersonalData {
    pub name: Text,
    /// Resident identity card number (18 characters, checksum verified).
    pub national_id: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<Date>,
}

impl PersonalData {
    /// Checks the fields whose form the law or the phone network fixes.
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(born) = self.birth_date {
            crate::check_date("birthDate", born)?;
        }
        if let Some(id) = &self.national_id {
            let embedded = check_national_id(id)?;
            if self.birth_date.is_some_and(|born| born != embedded) {
                return Err(DomainError::InvalidValue {
                    field: "nationalId".to_owned(),
                    reason: format!("the number gives the birth date {embedded}, not the birth date given"),
                });
            }
        }
        if let Some(phone) = &self.phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            let allowed = phone.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '));
            if !allowed || !(5..=20).contains(&digits) {
                return Err(DomainError::InvalidValue {
                    field: "phone".to_owned(),
                    reason: "expected 5 to 20 digits, optionally with + - or spaces".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// The GB 11643 check of an 18-character resident identity number: 17 digits and a
/// check character (0–9 or X) computed by ISO 7064 MOD 11-2, the birth date in digits
/// 7 to 14 a real date. Returns that birth date.
fn check_national_id(id: &str) -> Result<Date, DomainError> {
    let bad = |reason: &str| DomainError::InvalidValue { field: "nationalId".to_owned(), reason: reason.to_owned() };
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(bad("expected 17 digits followed by a digit or X"));
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = bytes[..17].iter().zip(WEIGHTS).map(|(b, w)| (b - b'0') as u32 * w).sum();
    let expected = b"10X98765432"[(sum % 11) as usize];
    if bytes[17].to_ascii_uppercase() != expected {
        return Err(bad("check character does not match"));
    }
    let born = crate::parse_date("nationalId", &format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]))
        .map_err(|_| bad("digits 7 to 14 are not a birth date (YYYYMMDD)"))?;
    crate::check_date("nationalId", born)?;
    Ok(born)
}

/// Personal data after sealing: opaque bytes whose key lives outside the log. When the
/// key is destroyed (erasure), these bytes can no longer be read, and the hash chain,
/// which covers exactly these bytes, still verifies.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedPersonal(#[serde(with = "serde_bytes_compat")] pub Vec<u8>);

impl std::fmt::Debug for SealedPersonal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedPersonal({} bytes)", self.0.len())
    }
}

/// Encodes bytes as one length-prefixed blob rather than a sequence of numbers, so
/// postcard stores them compactly.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: Option<&str>, phone: Option<&str>) -> PersonalData {
        PersonalData {
            name: Text::parse("name", "王俊").unwrap(),
            national_id: id.map(str::to_owned),
            phone: phone.map(str::to_owned),
            birth_date: None,
        }
    }

    #[test]
    fn national_ids_are_checked_by_their_check_character() {
        assert!(person(Some("11010519491231002X"), None).validate().is_ok());
        assert!(person(Some("110105194912310021"), None).validate().is_err());
        assert!(person(Some("1101051949123100"), None).validate().is_err());
        assert!(person(None, Some("+86 719-8888888")).validate().is_ok());
        assert!(person(None, Some("call me")).validate().is_err());
    }

    #[test]
    fn the_birth_date_in_a_national_id_exists_and_agrees_with_the_one_given() {
        let born = |id: &str, birth: &str| PersonalData {
            birth_date: Some(crate::parse_date("b", birth).unwrap()),
            ..person(Some(id), None)
        };
        assert!(born("110105198005040028", "1980-05-04").validate().is_ok());
        let disagrees = born("110105198005040028", "1980-05-05").validate().unwrap_err();
        assert_eq!(disagrees.field(), Some("nationalId"));
        assert!(disagrees.to_string().contains("1980-05-04"), "{disagrees}");
        // Valid check characters around dates that do not exist or are out of range.
        assert!(person(Some("110105194902300020"), None).validate().is_err(), "30 February");
        assert!(person(Some("110105189912310023"), None).validate().is_err(), "1899");
        let far = PersonalData { birth_date: Some(time::macros::date!(0011 - 05 - 04)), ..person(None, None) };
        assert_eq!(far.validate().unwrap_err().field(), Some("birthDate"));
    }
}
