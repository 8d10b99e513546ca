//! Recording reads of personal data: the one write on the read path.

use isms_domain::privacy::{self, PersonalDataAccess};
use isms_domain::Aggregate;
use isms_store::{AppendError, AppendRequest, CommandMeta, ExpectedVersion, Position, StreamRef, TenantId};
use uuid::Uuid;

use crate::commands::to_new_event;
use crate::{AppError, Ledger};

/// A read of personal data that was served (or is about to be).
#[derive(Debug, Clone)]
pub struct PersonalDataReadContext {
    pub tenant: TenantId,
    /// The token's `sub`.
    pub reader: String,
    /// The request that read, so the read and anything else the request did correlate.
    pub correlation_id: Uuid,
    pub purpose: Option<String>,
}

impl Ledger {
    /// Appends `PersonalDataRead` to the tenant's `personal_data_access` stream and returns once
    /// it is durable. Any stream version is accepted: reads do not conflict with one another,
    /// so concurrent readers never retry.
    pub async fn record_personal_data_read(
        &self,
        context: &PersonalDataReadContext,
        subject_read: &str,
    ) -> Result<Position, AppError> {
        let events =
            PersonalDataAccess::record_read(subject_read.to_owned(), context.reader.clone(), context.purpose.clone());
        let request = AppendRequest {
            tenant: context.tenant.clone(),
            stream: StreamRef::new(PersonalDataAccess::STREAM_TYPE, privacy::STREAM_ID),
            expected: ExpectedVersion::Any,
            events: events.iter().map(to_new_event).collect::<Result<_, _>>()?,
            meta: CommandMeta {
                actor: context.reader.clone(),
                correlation_id: context.correlation_id,
                causation_id: None,
                source: None,
                idempotency: None,
            },
        };
        match self.store.append(request).await {
            Ok(appended) => Ok(appended.position()),
            Err(AppendError::Store(error)) => Err(error.into()),
            Err(other) => {
                Err(isms_store::StoreError::Io(format!("recording a personal-data read failed: {other}")).into())
            }
        }
    }
}
