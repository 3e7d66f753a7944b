//! The default one-time-code sender: every message goes to the store's outbox table, where
//! tests and the portal read it. A deployment that delivers real SMS, calls or e-mail plugs in
//! another [`authn::otp::Sender`].

use authn::otp::{OtpChannel, SendError, SendFuture, Sender};
use store::{Channel, OutboxMessage, Store};

/// Writes messages to the outbox table.
#[derive(Debug, Clone)]
pub struct OutboxSender {
    store: Store,
}

impl OutboxSender {
    /// A sender writing to `store`.
    pub fn new(store: Store) -> Self {
        OutboxSender { store }
    }
}

/// The stored channel of an OTP channel.
pub fn channel(c: OtpChannel) -> Channel {
    match c {
        OtpChannel::Sms => Channel::Sms,
        OtpChannel::Voice => Channel::Voice,
        OtpChannel::Email => Channel::Email,
    }
}

/// The OTP channel of a stored one.
pub fn otp_channel(c: Channel) -> OtpChannel {
    match c {
        Channel::Sms => OtpChannel::Sms,
        Channel::Voice => OtpChannel::Voice,
        Channel::Email => OtpChannel::Email,
    }
}

impl Sender for OutboxSender {
    fn send<'a>(
        &'a self,
        channel_: OtpChannel,
        recipient: &'a str,
        message: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(async move {
            if recipient.trim().is_empty() {
                return Err(SendError::InvalidRecipient("empty".into()));
            }
            let now = chrono::Utc::now();
            self.store
                .push_outbox(&OutboxMessage::new(
                    channel(channel_),
                    recipient,
                    message,
                    now,
                ))
                .await
                .map_err(|e| SendError::Unavailable(e.to_string()))
        })
    }
}
