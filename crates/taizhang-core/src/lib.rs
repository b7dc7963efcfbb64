//! The taizhang domain: what a volunteer service month is made of, and the rules every
//! command must satisfy before any event exists.
//!
//! This crate does no I/O. The main types:
//! - ids ([`UnitId`], [`MemberId`], [`OutingId`], [`StreamId`]) and values parsed once and
//!   trusted after ([`Minutes`], [`Period`], [`Text`], [`Timestamp`]);
//! - [`DomainEvent`], the closed set of facts the log can hold, each with a stable type
//!   code and schema version;
//! - [`Command`], what clerks and reviewers ask for, and [`decide`], which validates a
//!   command against the current [`Aggregates`] and returns the events to append;
//! - [`DomainError`], one error type whose variants a clerk can act on.
//!
//! ```
//! use taizhang_core::*;
//! // A unit the clerks know as SY-0001: its id is the code's, whoever registers it.
//! let unit = UnitId::of_code("SY-0001");
//! assert_eq!("SY-0001".parse::<UnitId>(), Ok(unit));
//! let cmd = Command::RegisterUnit(RegisterUnit {
//!     unit,
//!     name: Text::parse("name", "十堰市人民医院").unwrap(),
//!     industry: Text::parse("industry", "医院").unwrap(),
//!     region: Text::parse("region", "茅箭区").unwrap(),
//!     parent: None,
//!     code: Some(Text::parse("code", "SY-0001").unwrap()),
//! });
//! let loaded = Aggregates::default();
//! let today = time::macros::date!(2011 - 06 - 01);
//! let events = decide(&cmd, &loaded, today, &mut |_: MemberId, _: &PersonalData| SealedPersonal(vec![])).unwrap();
//! assert_eq!(events[0].event.stream(), StreamId::unit(unit));
//! ```
#![forbid(unsafe_code)]

mod amend;
mod command;
mod decide;
mod error;
mod event;
mod ids;
pub mod interner;
pub mod legacy;
mod member;
mod outing;
mod personal;
pub mod scenario;
mod state;
mod unit;
mod values;

pub use amend::{corrections, Change, Correction};
pub use command::*;
pub use decide::{decide, dependencies, units_written, PendingEvent, Sealer};
mod schema;
pub use error::{DomainError, ErrorKind};
pub use event::*;
pub use ids::*;
pub use member::*;
pub use outing::*;
pub use personal::*;
pub use state::*;
pub use unit::*;
pub use values::*;
