//! A ledger on a real sled store in a temporary directory, and short ways to send the
//! commands the read-side tests need. Each test binary uses part of it.
#![allow(dead_code)]

use std::sync::Arc;

use taizhang_app::{CommandContext, Ledger};
use taizhang_core::*;
use taizhang_read::{catch_up, ReadModel};
use taizhang_store::{AppendOutcome, EventStore, SledStore};
use tempfile::TempDir;
use time::Date;

pub struct World {
    pub ledger: Ledger<SledStore>,
    _dir: TempDir,
}

pub fn text(s: &str) -> Text {
    Text::parse("test", s).unwrap()
}

pub fn span(a: &str, b: &str) -> TimeRange {
    TimeRange::new("span", ClockTime::parse("t", a).unwrap(), ClockTime::parse("t", b).unwrap()).unwrap()
}

pub fn details(date: Date, a: &str, b: &str) -> OutingDetails {
    OutingDetails {
        date,
        span: span(a, b),
        place: text("十堰市茅箭区"),
        category: text("便民服务"),
        description: None,
        beneficiaries: 10,
    }
}

impl World {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(&dir.path().join("data")).unwrap());
        let ledger = Ledger::open(store, &dir.path().join("master.key")).await.unwrap();
        Self { ledger, _dir: dir }
    }

    /// A path inside this world's temporary directory.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self._dir.path().join(name)
    }

    pub fn store(&self) -> &Arc<SledStore> {
        self.ledger.store()
    }

    pub async fn try_run(&self, cmd: Command) -> Result<AppendOutcome, taizhang_app::AppError> {
        self.ledger.execute(CommandContext::new(Actor::OPERATOR), cmd).await
    }

    pub async fn run(&self, cmd: Command) -> AppendOutcome {
        self.try_run(cmd).await.unwrap()
    }

    pub async fn unit(&self, name: &str, industry: &str, region: &str) -> UnitId {
        let unit = UnitId::new();
        self.run(Command::RegisterUnit(RegisterUnit {
            unit,
            name: text(name),
            industry: text(industry),
            region: text(region),
            parent: None,
            code: None,
        }))
        .await;
        unit
    }

    pub async fn member(&self, unit: UnitId, joined: Date, born: Option<Date>) -> MemberId {
        let member = MemberId::new();
        self.run(Command::RegisterMember(RegisterMember {
            member,
            unit,
            joined_on: joined,
            personal: PersonalData { name: text("志愿者"), national_id: None, phone: None, birth_date: born },
            code: None,
        }))
        .await;
        member
    }

    /// An outing where every listed member serves `minutes` (or the whole span).
    pub async fn outing(
        &self,
        unit: UnitId,
        date: Date,
        a: &str,
        b: &str,
        members: &[(MemberId, Option<u32>)],
    ) -> OutingId {
        let outing = OutingId::new();
        self.run(Command::RegisterOuting(RegisterOuting {
            outing,
            unit,
            details: details(date, a, b),
            participants: members
                .iter()
                .map(|(m, minutes)| ParticipationInput {
                    member: *m,
                    span: None,
                    minutes: minutes.and_then(Minutes::new),
                })
                .collect(),
            code: None,
        }))
        .await;
        outing
    }

    pub async fn verify(&self, outing: OutingId) -> AppendOutcome {
        self.run(Command::VerifyOuting(VerifyOuting { outing, note: None, expected_version: None })).await
    }

    pub async fn model(&self) -> ReadModel {
        let mut model = ReadModel::default();
        catch_up(self.store(), &mut model, self.store().head()).await.unwrap();
        model
    }
}
