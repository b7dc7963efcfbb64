//! Command handling over an event store: the one path every command takes, whoever
//! sends it (GraphQL, CSV import, the demo generator).
//!
//! [`Ledger::execute`] loads the aggregates a command depends on, lets
//! [`taizhang_core::decide`] validate it, seals new personal data under a fresh member
//! key, and appends the events with the version of every stream it read as the
//! expected version. If any of those streams changed meanwhile (another clerk, another
//! server) the append is a conflict and the command is decided again on fresh state, so
//! rules that span streams (a member's 24 hours a day, no overlapping outings) hold
//! under concurrency. A command id makes the whole thing idempotent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use taizhang_app::{CommandContext, Ledger};
//! use taizhang_store::SledStore;
//! let dir = std::path::Path::new("./taizhang-data");
//! let ledger = Ledger::open(Arc::new(SledStore::open(dir)?), &dir.join("master.key")).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod demo;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use taizhang_core::*;
use taizhang_store::keys::{KeyError, KeyHome, KeyState, KeyStore, MasterKey, SubjectKey};
use taizhang_store::{AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, StoreError};
use uuid::Uuid;

/// How many times a command is decided again after losing a race before the caller is
/// told to retry. Waiting for a turn (see [`Turns`]) is not an attempt.
const MAX_ATTEMPTS: u32 = 64;

/// The number of queues [`Turns`] spreads streams over.
const TURN_QUEUES: usize = 256;

/// Queues for the commands of this process that lost a race, by the stream they lost
/// it on: such a command decides again only when those that lost on that stream before
/// it have had their turn.
///
/// A crowd of check-ins on one outing's stream loses in every group commit but one:
/// racing freely, each is decided again in nearly every commit, and the last in a crowd
/// of a hundred would need more attempts than it is given. In turns, the losers take
/// one commit each, in order, and only a command that has not yet lost (or one of
/// another server) can still beat the one whose turn it is. Streams share the queues by
/// their id (a bounded set, nothing to clean up): two hot streams in one queue take
/// turns together, which only orders commands that had to decide again anyway. A
/// command holds at most one turn and lets it go before it waits for another, so no two
/// commands can wait for each other; a request dropped (its deadline) leaves its queue.
struct Turns([tokio::sync::Mutex<()>; TURN_QUEUES]);

impl Default for Turns {
    fn default() -> Self {
        Turns(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

impl Turns {
    /// The queue of `stream`.
    fn queue(&self, stream: StreamId) -> usize {
        // Version 7 and version 5 ids both end in random or hashed bits.
        (stream.id.as_u128() % TURN_QUEUES as u128) as usize
    }
}

/// Who sends a command and how to recognise it when it is sent again.
#[derive(Clone, Debug)]
pub struct CommandContext {
    pub command_id: Uuid,
    pub actor: Actor,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// The units the sender may write for (a clerk's token); `None`: every unit.
    pub scope: Option<Arc<[UnitId]>>,
    /// `None` (every client): recorded now. Set only to replay a simulated history
    /// (the sample campaign); see [`AppendRequest::recorded_at`].
    pub recorded_at: Option<Timestamp>,
    /// `None` (every client): a member registered by this command, or a citizen whose
    /// opinion it records, gets a random key. Set only for generated people (the sample
    /// campaign): their key derives from this secret ([`SubjectKey::derived`]), so the
    /// sealed data, and the log, are the same on every load of the same seed.
    pub key_secret: Option<Arc<[u8]>>,
}

impl CommandContext {
    /// A context with a fresh command id, unscoped.
    pub fn new(actor: Actor) -> Self {
        Self {
            command_id: Uuid::now_v7(),
            actor,
            correlation_id: None,
            causation_id: None,
            scope: None,
            recorded_at: None,
            key_secret: None,
        }
    }

    /// The key of the data subject whose personal data `cmd` brings in first (a
    /// member it registers, a citizen whose opinion it records), if any.
    fn new_subject_key(&self, cmd: &Command) -> Option<(DataSubject, SubjectKey)> {
        let subject = match cmd {
            Command::RegisterMember(c) => DataSubject::from(c.member),
            Command::RecordOpinion(c) if c.citizen.is_some() => DataSubject::from(c.opinion),
            Command::SubmitOpinion(c) if c.citizen.is_some() => DataSubject::from(c.opinion),
            _ => return None,
        };
        let key = match &self.key_secret {
            Some(secret) => SubjectKey::derived(secret, subject),
            None => SubjectKey::generate(),
        };
        Some((subject, key))
    }

    /// Refuses a command that writes for a unit outside the sender's scope.
    fn check_scope(&self, cmd: &Command, loaded: &Aggregates) -> Result<(), AppError> {
        let Some(scope) = &self.scope else { return Ok(()) };
        match units_written(cmd, loaded).into_iter().find(|unit| !scope.contains(unit)) {
            Some(unit) => Err(AppError::OutOfScope { unit }),
            None => Ok(()),
        }
    }
}

/// Why a command did not take effect. In every case nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The command breaks a domain rule; the variant says which and how to fix it.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The streams kept changing under the command; sending it again may succeed.
    #[error("too many concurrent changes to {stream}; send the command again")]
    Contention { stream: String },
    /// The sender may not write for this unit (a clerk's token names other units).
    #[error("this token may not write for unit {unit}: it is scoped to other units")]
    OutOfScope { unit: UnitId },
    /// The command id was used before for a different command.
    #[error("command id {0} was already used for a different command")]
    CommandIdReused(Uuid),
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A storage failure; details are for the log, not the client.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::CommandIdReused(id) => AppError::CommandIdReused(id),
            other => AppError::Store(other),
        }
    }
}

/// What became of one command.
type Answer = Result<AppendOutcome, AppError>;

/// A batch decided but not yet appended.
struct Decided {
    /// Every command of the batch, in order, with its answer when it has no append in
    /// `requests` (a retry answered from the log, a broken rule).
    commands: Vec<(CommandContext, Command, Option<Answer>)>,
    /// The appends, in order; taken away to be appended.
    requests: Vec<AppendRequest>,
}

/// Applies decided events to the state they were decided on, each at its stream's
/// next version.
fn apply_pending(state: &mut Aggregates, events: &[PendingEvent]) {
    for pending in events {
        let stream = pending.event.stream();
        let version = state.version(stream).map_or(0, |v| v + 1);
        state.apply(version, &pending.event);
    }
}

/// A member's personal data as a reader sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Personal {
    Known(PersonalData),
    /// The member (or citizen) was erased: the key is gone and the fields cannot be read.
    Erased,
}

/// Puts `snapshot` in the cache unless it holds a later state of `stream`; starts the
/// cache over when it is full.
fn keep_latest(cache: &mut HashMap<StreamId, StreamSnapshot>, stream: StreamId, snapshot: StreamSnapshot) {
    if cache.get(&stream).is_some_and(|cached| cached.version >= snapshot.version) {
        return;
    }
    if cache.len() >= CACHED_STREAMS {
        cache.clear();
    }
    cache.insert(stream, snapshot);
}

/// How a command reads the snapshot cache.
#[derive(Clone, Copy)]
enum CacheUse {
    /// Copies what it reads; the cache keeps it (batches, rehearsals, readers).
    Copy,
    /// Takes what it reads out of the cache, and gives back the state it decided
    /// ([`Ledger::give_back`]): one command, which would otherwise copy a member's
    /// whole calendar in and out of the cache each time. A command on the same stream
    /// meanwhile reads it from the store, as after a miss.
    Take,
}

/// Commands per [`Ledger::execute_batch`] when loading many (the sample campaign, an
/// import): one decision pass and one commit each. Larger batches gain little once
/// the fsync is shared this widely, and hold more undecided work when one conflicts.
pub const BULK_BATCH: usize = 2_048;

/// Lookups in flight when a batch asks the store for what it needs.
pub(crate) const PREFETCH: usize = 64;

/// Streams whose folded state the command side keeps between commands. When full,
/// the cache starts over: it saves reads, it is never needed for correctness. An
/// import rehearses every row, then writes them, both through this cache: a file
/// whose streams do not fit reads each of them from the store twice (the sample
/// campaign's city, 64 k streams, fits; a snapshot is a few hundred bytes).
const CACHED_STREAMS: usize = 100_000;

/// The command side of taizhang over one store and its key store.
pub struct Ledger<S: EventStore> {
    store: Arc<S>,
    keys: KeyStore,
    master: MasterKey,
    /// Each stream's state at the last version a command read or wrote. A command reads
    /// only the events appended since (by any server), so a member with a long calendar
    /// costs one index lookup instead of a replay; the expected versions of the append
    /// still catch every race.
    snapshots: std::sync::Mutex<HashMap<StreamId, StreamSnapshot>>,
    turns: Turns,
}

impl<S: EventStore + KeyHome> Ledger<S> {
    /// The ledger over a store, with the master key at `master_key_file` (created,
    /// mode 0600, when absent and no member key exists yet).
    pub async fn open(store: Arc<S>, master_key_file: &Path) -> Result<Self, AppError> {
        let keys = store.key_store();
        let master = MasterKey::load_or_create(master_key_file, keys.is_empty().await?)?;
        keys.confirm_master(&master).await?;
        Ok(Self { store, keys, master, snapshots: Default::default(), turns: Turns::default() })
    }
}

/// An outing's registration or amendment without `member`'s participation; `None` for
/// other commands, or when no one would be left.
fn without_participant(cmd: &Command, member: MemberId) -> Option<Command> {
    let keep = |list: &[ParticipationInput]| -> Option<Vec<ParticipationInput>> {
        let kept: Vec<_> = list.iter().filter(|p| p.member != member).copied().collect();
        (!kept.is_empty() && kept.len() < list.len()).then_some(kept)
    };
    match cmd {
        Command::RegisterOuting(c) => {
            Some(Command::RegisterOuting(RegisterOuting { participants: keep(&c.participants)?, ..c.clone() }))
        }
        Command::AmendOuting(c) => {
            Some(Command::AmendOuting(AmendOuting { participants: keep(&c.participants)?, ..c.clone() }))
        }
        _ => None,
    }
}

impl<S: EventStore> Ledger<S> {
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The master key, for what derives from it beside personal data: check-in PIN
    /// digests, new PINs and site codes ([`MasterKey::pin_digest`]).
    pub fn master_key(&self) -> &MasterKey {
        &self.master
    }

    /// The answer to a command whose id the log already holds: the first outcome when
    /// the events stored under it are what this command asks for
    /// ([`Command::asks_for`]), else the id was given to another command
    /// (`CommandIdReused`). (The store compares the events themselves when two appends
    /// race; a command answered from the log before it is decided is checked here.)
    async fn answered_before(&self, cmd: &Command, outcome: AppendOutcome) -> Result<AppendOutcome, AppError> {
        let count = (outcome.last_position + 1).saturating_sub(outcome.first_position) as usize;
        let stored = self.store.read_all(outcome.first_position, count).await?;
        let written: Vec<DomainEvent> = stored.into_iter().map(|e| e.payload).collect();
        if cmd.asks_for(&written) {
            Ok(outcome)
        } else {
            Err(AppError::CommandIdReused(outcome.command_id))
        }
    }

    /// Validates and applies one command; see the crate documentation.
    pub async fn execute(&self, ctx: CommandContext, cmd: Command) -> Result<AppendOutcome, AppError> {
        if let Some(outcome) = self.store.command_outcome(ctx.command_id).await? {
            return self.answered_before(&cmd, outcome).await;
        }
        let mut last_conflict = String::new();
        // The queue whose turn this command holds, once it has lost a race.
        let mut turn: Option<(usize, tokio::sync::MutexGuard<'_, ()>)> = None;
        for _ in 0..MAX_ATTEMPTS {
            let mut loaded = Aggregates::default();
            self.load_into(&cmd, &mut loaded, CacheUse::Take).await?;
            // The streams that had events when read: those the cache may keep again.
            let known: Vec<StreamId> = loaded.versions.iter().filter_map(|(s, v)| v.map(|_| *s)).collect();
            let request = match self.prepare(&ctx, &cmd, &mut loaded).await {
                Ok(request) => request,
                Err(e) => {
                    // A state taken from the cache without asking the store (see
                    // `fetch_stream`) may be behind it: the refusal stands only if no
                    // stream read moved meanwhile. Else the next attempt reads them.
                    if self.store.sole_writer() && self.moved_since(&loaded).await? {
                        continue;
                    }
                    // Refused before anything was applied: the state is as it was read.
                    self.give_back(&known, loaded);
                    return Err(e);
                }
            };
            match self.store.append(request).await {
                Ok(outcome) => {
                    // A duplicate's events are an earlier run's, not this decision's.
                    if !outcome.duplicate {
                        self.give_back(&known, loaded);
                    }
                    return Ok(outcome);
                }
                Err(StoreError::Conflict { stream, .. }) => {
                    last_conflict = stream.to_string();
                    let queue = self.turns.queue(stream);
                    if turn.as_ref().is_none_or(|(held, _)| *held != queue) {
                        drop(turn.take());
                        turn = Some((queue, self.turns.0[queue].lock().await));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Contention { stream: last_conflict })
    }

    /// Validates and applies commands in this order, as [`Ledger::execute`] would one
    /// after the other, but decided in one pass (each against the log plus the earlier
    /// ones) and appended in one commit: the bulk path of imports and the sample
    /// campaign, whose log order is then the order given. Each command gets its own
    /// outcome; one that breaks a rule writes nothing and the others go on. Commands
    /// that lose a race with another writer are executed again one by one, in order.
    pub async fn execute_batch(&self, batch: Vec<(CommandContext, Command)>) -> Result<Vec<Answer>, AppError> {
        let mut decided = self.decide_batch(batch, &mut Aggregates::default()).await?;
        let appended = self.store.append_batch(std::mem::take(&mut decided.requests)).await;
        Ok(self.settle(decided, appended).await.0)
    }

    /// Runs `commands` in order, in batches of [`BULK_BATCH`]: each batch is decided
    /// while the one before commits, against a state carried from batch to batch (so
    /// a stream is read from the store once per run). `progress` hears how many are
    /// done. Commands already in the log (the same command ids) are answered from it
    /// and write nothing. The first failure stops the run.
    pub async fn run_in_order(
        &self,
        commands: Vec<(CommandContext, Command)>,
        progress: impl Fn(usize),
    ) -> Result<usize, AppError> {
        let mut done = 0;
        let mut state = Aggregates::default();
        let mut committing: Option<(Decided, tokio::task::JoinHandle<_>)> = None;
        let mut rest = commands.into_iter().peekable();
        loop {
            let next = if rest.peek().is_some() {
                if state.versions.len() > CACHED_STREAMS {
                    // Bounded memory: start over from the store once nothing is in flight.
                    if let Some((sent, commit)) = committing.take() {
                        done += self.settled_ok(sent, commit).await?.0;
                        progress(done);
                    }
                    state = Aggregates::default();
                }
                Some(self.decide_batch(rest.by_ref().take(BULK_BATCH).collect(), &mut state).await?)
            } else {
                None
            };
            if let Some((sent, commit)) = committing.take() {
                let (settled, raced) = self.settled_ok(sent, commit).await?;
                done += settled;
                progress(done);
                if raced {
                    // Another writer changed streams this run holds: read them again.
                    state = Aggregates::default();
                }
            }
            let Some(mut decided) = next else { return Ok(done) };
            let store = self.store.clone();
            let requests = std::mem::take(&mut decided.requests);
            committing = Some((decided, tokio::spawn(async move { store.append_batch(requests).await })));
        }
    }

    /// Waits for a batch's commit and settles it: how many commands took effect and
    /// whether any lost a race; the first failure is returned as the error.
    async fn settled_ok(
        &self,
        sent: Decided,
        commit: tokio::task::JoinHandle<Vec<Result<AppendOutcome, StoreError>>>,
    ) -> Result<(usize, bool), AppError> {
        let appended = commit.await.map_err(|e| AppError::Store(StoreError::Backend(format!("commit task: {e}"))))?;
        let (results, raced) = self.settle(sent, appended).await;
        let count = results.len();
        for result in results {
            result?;
        }
        Ok((count, raced))
    }

    /// Decides `batch` in order against `state` (loading what it lacks from the store)
    /// without writing: the appends to make, and the answer of every command that has
    /// none.
    async fn decide_batch(
        &self,
        batch: Vec<(CommandContext, Command)>,
        state: &mut Aggregates,
    ) -> Result<Decided, AppError> {
        let mut decided = Decided { commands: Vec::with_capacity(batch.len()), requests: Vec::new() };
        // On PostgreSQL every lookup is a round trip: ask for what the batch needs at
        // once (the streams its commands name; those found only later load one by one).
        // (The futures are collected first: a closure inside the stream's type would make
        // the whole future not `Send` for every lifetime, and callers spawn it.)
        let lookups: Vec<_> = batch.iter().map(|(ctx, _)| self.store.command_outcome(ctx.command_id)).collect();
        let known: Vec<_> = stream::iter(lookups).buffered(PREFETCH).collect().await;
        let mut needed: Vec<StreamId> = batch.iter().flat_map(|(_, cmd)| dependencies(cmd, state)).collect();
        needed.sort_unstable();
        needed.dedup();
        needed.retain(|s| !state.is_loaded(s));
        let fetches: Vec<_> = needed.iter().map(|s| self.fetch_stream(*s, CacheUse::Copy)).collect();
        let fetched: Vec<_> = stream::iter(fetches).buffered(PREFETCH).collect().await;
        for (s, result) in needed.into_iter().zip(fetched) {
            let (cached, events) = result?;
            self.absorb(s, cached, events, state, CacheUse::Copy);
        }
        for ((ctx, cmd), known) in batch.into_iter().zip(known) {
            let answer = match known? {
                Some(outcome) => Some(self.answered_before(&cmd, outcome).await),
                None => {
                    self.load_into(&cmd, state, CacheUse::Copy).await?;
                    match self.prepare(&ctx, &cmd, state).await {
                        Ok(request) => {
                            decided.requests.push(request);
                            None
                        }
                        Err(e) => Some(Err(e)),
                    }
                }
            };
            decided.commands.push((ctx, cmd, answer));
        }
        Ok(decided)
    }

    /// Matches a decided batch's commands with the store's outcomes, executing again
    /// one by one, in order, those that lost a race; also says whether any did.
    async fn settle(&self, decided: Decided, appended: Vec<Result<AppendOutcome, StoreError>>) -> (Vec<Answer>, bool) {
        let mut appended = appended.into_iter();
        let mut raced = false;
        let mut results = Vec::with_capacity(decided.commands.len());
        for (ctx, cmd, answer) in decided.commands {
            if let Some(answer) = answer {
                results.push(answer);
                continue;
            }
            results.push(
                match appended.next().unwrap_or_else(|| Err(StoreError::Backend("the store gave no outcome".into()))) {
                    Ok(outcome) => Ok(outcome),
                    Err(StoreError::Conflict { .. }) => {
                        raced = true;
                        self.execute(ctx, cmd).await
                    }
                    Err(e) => Err(e.into()),
                },
            );
        }
        (results, raced)
    }

    /// Decides `cmd` against `state` (which holds every stream it depends on), makes
    /// or destroys the member key it needs, applies its events to `state` and returns
    /// the append that expects the versions the decision read (and carries the new
    /// member's key, written in the same commit).
    async fn prepare(
        &self,
        ctx: &CommandContext,
        cmd: &Command,
        state: &mut Aggregates,
    ) -> Result<AppendRequest, AppError> {
        // Checked on every attempt: a member's unit may have changed meanwhile.
        ctx.check_scope(cmd, state)?;
        let new_key = ctx.new_subject_key(cmd);
        // A correction is sealed under the key the member already has.
        let existing_key = match cmd {
            Command::CorrectPersonalData(c) => self.key_to_correct(c.member, state).await?,
            _ => None,
        };
        let today = ctx.recorded_at.unwrap_or_else(Timestamp::now).service_date();
        let events = decide(cmd, state, today, &mut |subject: DataSubject, personal: &PersonalData| {
            let key = new_key.as_ref().map(|(_, key)| key).or(existing_key.as_ref());
            key.expect("decide seals only new subjects' data, or a member's whose key is present")
                .seal(subject, personal)
        })?;
        let mut read: Vec<StreamId> = dependencies(cmd, state);
        read.extend(events.iter().map(|e| e.event.stream()));
        read.sort_unstable();
        read.dedup();
        let expectations = read.into_iter().map(|s| (s, ExpectedVersion::from_read(state.version(s)))).collect();
        // Destroy the key before the event says so: a crash in between leaves the data
        // unreadable, never readable while the log says erased.
        for pending in &events {
            match &pending.event {
                DomainEvent::MemberErased(e) => self.keys.erase(e.member.into()).await?,
                DomainEvent::CitizenErased(e) => self.keys.erase(e.opinion.into()).await?,
                _ => {}
            }
        }
        apply_pending(state, &events);
        Ok(AppendRequest {
            command_id: ctx.command_id,
            actor: ctx.actor,
            correlation_id: ctx.correlation_id,
            causation_id: ctx.causation_id,
            expectations,
            events: events.into_iter().map(|e| NewEvent { payload: e.event, occurred_at: e.occurred_at }).collect(),
            recorded_at: ctx.recorded_at,
            subject_key: new_key.map(|(subject, key)| self.master.wrap(subject, &key)),
        })
    }

    /// Decides `commands` in order against the log as it is now plus the effects of
    /// the earlier ones, writing nothing: what an import checks before it writes a row.
    /// Each gets every rule it would break (empty when none): an outing's problems with
    /// its participants are found one after the other, each participant at fault left
    /// out in turn, so a file is mended in one pass. (Personal data is validated but not
    /// sealed: the events are dropped.)
    pub async fn rehearse(&self, commands: &[Command]) -> Result<Vec<Vec<DomainError>>, AppError> {
        let mut state = Aggregates::default();
        let mut outcomes = Vec::with_capacity(commands.len());
        let today = Timestamp::now().service_date();
        let no_seal = &mut |_: DataSubject, _: &PersonalData| SealedPersonal(Vec::new());
        for cmd in commands {
            self.load_into(cmd, &mut state, CacheUse::Copy).await?;
            let mut problems = Vec::new();
            let mut tried = cmd.clone();
            loop {
                match decide(&tried, &state, today, no_seal) {
                    Ok(events) if problems.is_empty() => apply_pending(&mut state, &events),
                    Ok(_) => {}
                    Err(e) => {
                        let member = e.participant();
                        problems.push(e);
                        if let Some(rest) = member.and_then(|m| without_participant(&tried, m)) {
                            tried = rest;
                            continue;
                        }
                    }
                }
                break;
            }
            outcomes.push(problems);
        }
        Ok(outcomes)
    }

    /// The corrections a registration of a record already registered asks for (see
    /// [`taizhang_core::corrections`]), read against the log as it is now, with the
    /// version of the record's stream they were read at: `Ok(Ok(None))` when the record
    /// is not registered. A member's personal data is opened with their key to compare.
    pub async fn corrections(
        &self,
        register: &Command,
        reason: &Text,
    ) -> Result<Result<Option<(Vec<Correction>, Option<u64>)>, DomainError>, AppError> {
        let mut loaded = Aggregates::default();
        let subject = register.subject();
        self.load_stream(subject, &mut loaded, CacheUse::Copy).await?;
        let mut personal = None;
        if let Command::RegisterMember(c) = register {
            if let Some(member) = loaded.members.get(&c.member).filter(|m| !m.erased) {
                if let Personal::Known(p) = self.personal_at(c.member, member.personal_version).await? {
                    personal = Some(p);
                }
            }
        }
        let version = loaded.version(subject);
        Ok(taizhang_core::corrections(register, &loaded, personal.as_ref(), reason)
            .map(|found| found.map(|corrections| (corrections, version))))
    }

    /// Adds to `loaded` every stream the command depends on that it lacks.
    async fn load_into(&self, cmd: &Command, loaded: &mut Aggregates, cache: CacheUse) -> Result<(), AppError> {
        loop {
            let missing: Vec<StreamId> =
                dependencies(cmd, loaded).into_iter().filter(|s| !loaded.is_loaded(s)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            for stream in missing {
                self.load_stream(stream, loaded, cache).await?;
            }
        }
    }

    async fn load_stream(&self, stream: StreamId, into: &mut Aggregates, cache: CacheUse) -> Result<(), AppError> {
        let (cached, events) = self.fetch_stream(stream, cache).await?;
        self.absorb(stream, cached, events, into, cache);
        Ok(())
    }

    /// A stream's cached state, if any, and its events since.
    async fn fetch_stream(
        &self,
        stream: StreamId,
        cache: CacheUse,
    ) -> Result<(Option<StreamSnapshot>, Vec<taizhang_store::RecordedEvent>), AppError> {
        let cached = {
            let mut snapshots = self.snapshots.lock().expect("snapshot cache lock");
            match cache {
                CacheUse::Copy => snapshots.get(&stream).cloned(),
                CacheUse::Take => snapshots.remove(&stream),
            }
        };
        // Where this process makes every append, a command decides on the state it
        // takes from the cache as it is, without asking the store for newer events:
        // the append expects the versions the state was read at, so a state that fell
        // behind (a batch, an import, another `Ledger` on the store wrote the stream)
        // fails it and the command runs again from the store; and a refusal is checked
        // against the store before it is given (`execute`). Asking cost a look into the
        // store's index for every stream of every command.
        if cached.is_some() && matches!(cache, CacheUse::Take) && self.store.sole_writer() {
            return Ok((cached, Vec::new()));
        }
        let from = cached.as_ref().map_or(0, |snapshot| snapshot.version + 1);
        Ok((cached, self.store.read_stream(stream, from, usize::MAX).await?))
    }

    /// Whether any stream `read` holds has another version in the store now.
    async fn moved_since(&self, read: &Aggregates) -> Result<bool, AppError> {
        for (stream, version) in &read.versions {
            if self.store.stream_version(*stream).await? != *version {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Folds a fetched stream into `into` and, unless the command took it from the
    /// cache (it gives its state back), caches its state.
    fn absorb(
        &self,
        stream: StreamId,
        cached: Option<StreamSnapshot>,
        events: Vec<taizhang_store::RecordedEvent>,
        into: &mut Aggregates,
        cache: CacheUse,
    ) {
        match cached {
            Some(snapshot) => into.restore(stream, snapshot),
            None => into.mark_empty(stream),
        }
        for event in &events {
            into.apply(event.version, &event.payload);
        }
        if !events.is_empty() && matches!(cache, CacheUse::Copy) {
            if let Some(snapshot) = into.snapshot(stream) {
                self.remember(stream, snapshot);
            }
        }
    }

    /// Puts the state of `streams` in `decided` back into the cache, moved, not
    /// copied, each at the version it holds: as read, or, once the append that expected
    /// every version the decision read is durable, as written. The next command on
    /// them (a member's next outing) then reads nothing back from the store — on sled,
    /// from a page long out of its page cache. A command that committed meanwhile may
    /// have put back a later state; that one stays.
    fn give_back(&self, streams: &[StreamId], mut decided: Aggregates) {
        let mut cache = self.snapshots.lock().expect("snapshot cache lock");
        for stream in streams {
            if let Some(snapshot) = decided.take_snapshot(*stream) {
                keep_latest(&mut cache, *stream, snapshot);
            }
        }
    }

    fn remember(&self, stream: StreamId, snapshot: StreamSnapshot) {
        keep_latest(&mut self.snapshots.lock().expect("snapshot cache lock"), stream, snapshot);
    }

    /// The key a correction of `member`'s personal data is sealed under; `None` when
    /// [`decide`] will refuse the command anyway (no such member, or erased).
    async fn key_to_correct(&self, member: MemberId, state: &Aggregates) -> Result<Option<SubjectKey>, AppError> {
        let known = state.members.get(&member);
        match self.keys.get(&self.master, member.into()).await? {
            KeyState::Present(key) => Ok(Some(key)),
            // The key is destroyed before the erasure is recorded: between the two, the
            // member is as good as erased.
            KeyState::Erased if known.is_some() => Err(DomainError::MemberErased { member }.into()),
            KeyState::Missing if known.is_some_and(|m| !m.erased) => Err(KeyError::Missing(member.into()).into()),
            KeyState::Erased | KeyState::Missing => Ok(None),
        }
    }

    /// The code the unit, member or outing with id `id` was registered with, if any (a
    /// look at each kind's stream: for messages that name records as clerks know them).
    pub async fn code_of(&self, id: Uuid) -> Result<Option<Text>, AppError> {
        for stream in [StreamId::unit(UnitId(id)), StreamId::member(MemberId(id)), StreamId::outing(OutingId(id))] {
            let code = match self.store.read_stream(stream, 0, 1).await?.first().map(|e| &e.payload) {
                Some(DomainEvent::UnitRegistered(e)) => e.code.clone(),
                Some(DomainEvent::MemberRegistered(e)) => e.code.clone(),
                Some(DomainEvent::OutingRegistered(e)) => e.code.clone(),
                _ => continue,
            };
            return Ok(code);
        }
        Ok(None)
    }

    /// A member's personal data as it reads now (the registration's, or the latest
    /// correction's), opened with their key, or `Erased`.
    pub async fn personal(&self, member: MemberId) -> Result<Personal, AppError> {
        let mut loaded = Aggregates::default();
        self.load_stream(StreamId::member(member), &mut loaded, CacheUse::Copy).await?;
        let version = loaded.members.get(&member).ok_or(DomainError::MemberNotFound(member))?.personal_version;
        self.personal_at(member, version).await
    }

    /// The personal data held by the record at `version` of the member's stream (the
    /// registration, 0, or a correction), opened with their key, or `Erased`: for
    /// readers that know the version from their read model (one read, not the stream).
    pub async fn personal_at(&self, member: MemberId, version: u64) -> Result<Personal, AppError> {
        let events = self.store.read_stream(StreamId::member(member), version, 1).await?;
        let sealed = match events.first().map(|e| &e.payload) {
            Some(DomainEvent::MemberRegistered(e)) => &e.personal,
            Some(DomainEvent::PersonalDataCorrected(e)) => &e.personal,
            _ => return Err(DomainError::MemberNotFound(member).into()),
        };
        self.open_sealed(member.into(), sealed).await
    }

    /// What the citizen who left `opinion` gave of themselves, opened with its key:
    /// `None` when they gave nothing, `Erased` once the key is destroyed.
    pub async fn citizen(&self, opinion: OpinionId) -> Result<Option<Personal>, AppError> {
        let events = self.store.read_stream(StreamId::opinion(opinion), 0, 1).await?;
        let sealed = match events.first().map(|e| &e.payload) {
            Some(DomainEvent::OpinionRecorded(e)) => &e.citizen,
            Some(DomainEvent::OpinionSubmitted(e)) => &e.citizen,
            _ => return Err(DomainError::OpinionNotFound(opinion).into()),
        };
        match sealed {
            Some(sealed) => Ok(Some(self.open_sealed(opinion.into(), sealed).await?)),
            None => Ok(None),
        }
    }

    /// Opens personal data sealed under `subject`'s key, or says it was erased.
    async fn open_sealed(&self, subject: DataSubject, sealed: &SealedPersonal) -> Result<Personal, AppError> {
        match self.keys.get(&self.master, subject).await? {
            KeyState::Present(key) => Ok(Personal::Known(key.open(subject, sealed)?)),
            KeyState::Erased => Ok(Personal::Erased),
            KeyState::Missing => Err(KeyError::Missing(subject).into()),
        }
    }

    /// The personal data of each of `records` (a member and the version of the record
    /// holding their data, from `MemberHistory::personal_version` of the read side)
    /// that can be read (erased members are left out), for exports that name people.
    pub async fn personal_of(
        &self,
        records: impl IntoIterator<Item = (MemberId, u64)>,
    ) -> Result<std::collections::BTreeMap<MemberId, PersonalData>, AppError> {
        let mut known = std::collections::BTreeMap::new();
        for (member, version) in records {
            if let Personal::Known(p) = self.personal_at(member, version).await? {
                known.insert(member, p);
            }
        }
        Ok(known)
    }
}
