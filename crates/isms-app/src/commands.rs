//! The command path, one generic routine for every aggregate.

use isms_domain::effective::EffectiveTime;
use isms_domain::{Actor, Aggregate, DomainError, EVENT_SCHEMA_VERSION};
use isms_projections::{decode_event, Entry};
use isms_store::{
    AppendError, AppendRequest, CommandMeta, Envelope, ExpectedVersion, IdempotencyClaim, NewEvent, StreamRef, TenantId,
};
use uuid::Uuid;

use crate::{AppError, Ledger};

/// An idempotency key and the fingerprint of the request that carries it.
#[derive(Debug, Clone)]
pub struct IdempotencyInput {
    pub key: String,
    pub fingerprint: String,
}

/// Who is asking, on whose behalf, with which guards.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub tenant: TenantId,
    pub actor: Actor,
    pub correlation_id: Uuid,
    /// The event that caused this command, when a policy (not a person) issued it, e.g. the
    /// audit finding that raises a nonconformity.
    pub causation_id: Option<Uuid>,
    pub idempotency: Option<IdempotencyInput>,
    /// The stream version the caller sent in `If-Match`.
    pub if_match: Option<u64>,
    /// The integration the command came through (`scim`, `training`, `jira`, `servicenow`);
    /// `None` for a person calling the API. Stamped on the events as the envelope's `source`.
    pub source: Option<String>,
}

/// Whether the command starts a stream (answered 201) or continues one (200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    NewStream,
    ExistingStream,
}

/// A command's outcome: the record's stream as of the command, and whether this is the replay
/// of an earlier request with the same idempotency key.
#[derive(Debug)]
pub struct CommandOutcome<A> {
    pub status: u16,
    pub entry: Entry<A>,
    pub replayed: bool,
}

pub type CommandResult<A> = Result<CommandOutcome<A>, AppError>;

/// Removes an in-flight idempotency key however the command ends.
struct InFlightGuard<'a> {
    ledger: &'a Ledger,
    key: Option<(TenantId, String, String)>,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.ledger.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        }
    }
}

/// How many times a command without `If-Match` is re-decided when another writer got in first.
const CONFLICT_RETRIES: usize = 16;

fn fold<A: Aggregate>(envelopes: &[Envelope]) -> Result<A, AppError> {
    let mut state = A::default();
    for envelope in envelopes {
        state.apply(&decode_event::<A>(envelope)?);
    }
    Ok(state)
}

impl Ledger {
    /// Runs one command against one stream.
    ///
    /// `exists` tells whether a folded state is a live record (for 404s); `decide` is the
    /// aggregate's pure decision. Without `If-Match`, a concurrent write to the same stream
    /// makes the command re-read and re-decide; with it, the caller gets 412.
    pub async fn execute<A: Aggregate>(
        &self,
        context: &CommandContext,
        stream_id: &str,
        creation: Creation,
        exists: impl Fn(&A) -> bool,
        decide: impl Fn(&A) -> Result<Vec<A::Event>, DomainError>,
    ) -> CommandResult<A> {
        // A tenant whose read model missed an event takes no more commands (fail closed).
        self.projections.tenant(&context.tenant)?;
        let stream = StreamRef::new(A::STREAM_TYPE, stream_id);
        let status = if creation == Creation::NewStream { 201 } else { 200 };
        let mut guard = InFlightGuard { ledger: self, key: None };
        if let Some(idempotency) = &context.idempotency {
            if let Some(replay) = self.replay::<A>(context, idempotency)? {
                return Ok(replay);
            }
            let key = (context.tenant.clone(), context.actor.subject.clone(), idempotency.key.clone());
            if !self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
                return Err(AppError::IdempotencyKeyInFlight);
            }
            guard.key = Some(key);
            // The first request may have finished between the check above and the claim.
            if let Some(replay) = self.replay::<A>(context, idempotency)? {
                return Ok(replay);
            }
        }
        for _ in 0..CONFLICT_RETRIES {
            let history = self.store.read_stream(&context.tenant, &stream, None)?;
            let version = history.last().map_or(0, |e| e.version);
            let state = fold::<A>(&history)?;
            if creation == Creation::ExistingStream && !exists(&state) {
                return Err(AppError::NotFound(format!("no {} with id {stream_id}", A::STREAM_TYPE)));
            }
            if let Some(expected) = context.if_match {
                if expected != version {
                    return Err(AppError::PreconditionFailed { current_version: version });
                }
            }
            let events = decide(&state)?;
            let request = AppendRequest {
                tenant: context.tenant.clone(),
                stream: stream.clone(),
                expected: if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) },
                events: events.iter().map(to_new_event).collect::<Result<_, _>>()?,
                meta: CommandMeta {
                    actor: context.actor.subject.clone(),
                    correlation_id: context.correlation_id,
                    causation_id: context.causation_id,
                    source: context.source.clone(),
                    idempotency: context.idempotency.as_ref().map(|i| IdempotencyClaim {
                        key: i.key.clone(),
                        fingerprint: i.fingerprint.clone(),
                        status,
                    }),
                },
            };
            match self.store.append(request).await {
                Ok(appended) => {
                    // Durable, but if projecting it failed the command is not acknowledged.
                    self.projections.tenant(&context.tenant)?;
                    let all: Vec<Envelope> = history.into_iter().chain(appended.envelopes).collect();
                    let entry = Entry::<A>::fold(&all)?.expect("a successful append leaves a non-empty stream");
                    return Ok(CommandOutcome { status, entry, replayed: false });
                }
                Err(AppendError::Conflict { actual, .. }) => {
                    if context.if_match.is_some() {
                        return Err(AppError::PreconditionFailed { current_version: actual });
                    }
                    continue;
                }
                Err(AppendError::DuplicateIdempotencyKey(_)) => {
                    let idempotency = context.idempotency.as_ref().expect("only keyed appends claim keys");
                    return self.replay::<A>(context, idempotency)?.ok_or(AppError::IdempotencyKeyInFlight);
                }
                Err(AppendError::Store(error)) => return Err(error.into()),
            }
        }
        Err(AppError::ConcurrentModification)
    }

    /// The earlier outcome under this key, rebuilt from the log as of that command.
    fn replay<A: Aggregate>(
        &self,
        context: &CommandContext,
        idempotency: &IdempotencyInput,
    ) -> Result<Option<CommandOutcome<A>>, AppError> {
        let Some(record) = self.store.idempotency(&context.tenant, &context.actor.subject, &idempotency.key)? else {
            return Ok(None);
        };
        if record.fingerprint != idempotency.fingerprint {
            return Err(AppError::IdempotencyKeyReused);
        }
        let stream = StreamRef::new(record.stream_type.clone(), record.stream_id.clone());
        let history = self.store.read_stream(&context.tenant, &stream, Some(record.position))?;
        let entry = Entry::<A>::fold(&history)?
            .ok_or_else(|| AppError::NotFound("the stream of the recorded command is missing".into()))?;
        Ok(Some(CommandOutcome { status: record.status, entry, replayed: true }))
    }
}

/// Splits a domain event (serialized adjacently tagged) into the type name and payload the log
/// stores, with the business time the event states (the envelope's `effective_at`).
pub fn to_new_event<E: serde::Serialize + EffectiveTime>(event: &E) -> Result<NewEvent, AppError> {
    let tagged = serde_json::to_value(event).map_err(|e| isms_store::StoreError::InvalidInput(e.to_string()))?;
    let (event_type, data) = match tagged {
        serde_json::Value::Object(mut map) => (
            map.remove("event_type").and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default(),
            map.remove("data").unwrap_or(serde_json::Value::Null),
        ),
        _ => (String::new(), serde_json::Value::Null),
    };
    Ok(NewEvent { event_type, schema_version: EVENT_SCHEMA_VERSION, data, effective_at: event.effective_at() })
}
