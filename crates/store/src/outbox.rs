//! The outbox: messages the default code sender "sends", for the portal and the tests to read.

use crate::sql::{ms, text_enum, RowExt};
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

text_enum! {
    /// How a one-time code reaches a person (Graph method modes `sms`, `voice`, `email`).
    pub enum Channel {
        /// Text message.
        Sms = "sms",
        /// Voice call.
        Voice = "voice",
        /// E-mail.
        Email = "email",
    }
}

/// One message handed to the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    /// Message id.
    pub id: String,
    /// How it is to be delivered.
    pub channel: Channel,
    /// Phone number or e-mail address.
    pub recipient: String,
    /// The text.
    pub body: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

impl OutboxMessage {
    /// A message with a fresh id.
    pub fn new(channel: Channel, recipient: &str, body: &str, at: DateTime<Utc>) -> Self {
        OutboxMessage {
            id: crate::new_id(),
            channel,
            recipient: recipient.to_string(),
            body: body.to_string(),
            created_at: crate::at_ms(at),
        }
    }
}

fn message_from_row(row: &AnyRow) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        id: row.text("id")?,
        channel: Channel::from_column(&row.text("channel")?)?,
        recipient: row.text("recipient")?,
        body: row.text("body")?,
        created_at: row.time("created_at")?,
    })
}

impl Store {
    /// Queues a message.
    pub async fn push_outbox(&self, message: &OutboxMessage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox_messages (id, channel, recipient, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&message.id)
        .bind(message.channel.as_str())
        .bind(&message.recipient)
        .bind(&message.body)
        .bind(ms(message.created_at))
        .execute(self.pool())
        .await
        .map_err(crate::error::on_write("outbox message"))?;
        Ok(())
    }

    /// Queued messages, for one recipient or all, newest first.
    pub async fn list_outbox(
        &self,
        recipient: Option<&str>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        sqlx::query(
            "SELECT id, channel, recipient, body, created_at FROM outbox_messages \
             WHERE ($1 IS NULL OR recipient = $1) ORDER BY created_at DESC, id DESC",
        )
        .bind(recipient)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(message_from_row)
        .collect()
    }
}
