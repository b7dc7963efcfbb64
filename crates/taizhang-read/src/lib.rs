//! The taizhang read side: projections of the log that reviewers decide awards from.
//!
//! - [`ReadModel`] holds every projection (units, members, outings with their whole
//!   history, indexes by unit and member, the recorded-at clock), fed only by the log
//!   through [`ReadModel::apply`], which never fails on a valid event.
//! - [`ledger`]: unit and member ledgers (台账) with corrections and running totals.
//! - [`report`]: summary reports by unit, region, industry and by week, month,
//!   half-year or period.
//! - [`look_back`]: a look-back round's report.
//! - [`policy`] and [`eligibility`]: declarative TOML policies and their explained
//!   outcomes.
//! - Every read takes an [`AsOf`]: a log position or recorded-at time ("what did we know
//!   then") and occurred-at bounds ("service done before").
//! - [`changes`]: what each event changed for star boards, so that a board kept at the
//!   head assesses again only those an event touched.
//! - [`Projector`] keeps a model current over a store, with checkpoints, read-your-
//!   writes and rebuilds.
//!
//! ```
//! use taizhang_read::{ledger, AsOf, ReadModel};
//! let model = ReadModel::default();
//! let page = ledger::unit_ledger(&model, taizhang_core::UnitId::new(), &AsOf::now(),
//!     ledger::PageRequest { offset: 0, limit: 50 });
//! assert!(page.is_none(), "no such unit");
//! ```
#![forbid(unsafe_code)]

pub mod board;
pub mod certificates;
pub mod changes;
pub mod eligibility;
pub mod evaluations;
pub mod ledger;
pub mod look_back;
pub mod model;
pub mod policy;
mod projector;
mod query;
pub mod recognitions;
pub mod report;
mod shape;

pub use model::{
    Assessment, CertificateRecord, CheckInRecord, CommitmentHistory, CommitmentVersion, CorrectionAnswer,
    CorrectionRecord, OpinionRecord, OpinionReview, PresenceRecord, PublicCard, ReadModel, RoundHistory,
    SummaryComment, SummaryHistory,
};
pub use projector::{catch_up, digests, Projector, ReadError, RebuildReport};
pub use query::AsOf;
