//! A temporary access pass an administrator issued.

use super::*;

/// The temporary access pass form.
#[derive(Deserialize)]
pub struct TapForm {
    /// The pass.
    pub pass: String,
}

/// Verifies a temporary access pass; a one-time pass is spent atomically.
pub async fn tap(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(tx): Path<String>,
    jar: CookieJar,
    PageForm(form): PageForm<TapForm>,
) -> Result<Response, PageError> {
    let step = Step::load(state, peer, &headers, &tx, jar).await?;
    let attempt = step.attempt().await?;
    let user_id = attempt.user_id.clone();
    if let Some(lock) = lockout::check(&step.state, &attempt).await? {
        return step.refuse(&Mode::TemporaryAccessPassOneTime, &lock).await;
    }
    let now = step.state.now();
    let candidate = SecretString::from(form.pass);
    let mut reason = "That temporary access pass is not valid.".to_string();
    for pass in step.state.store.list_taps(&user_id).await? {
        let stored = authn::tap::TapState {
            pass_hash: pass.pass_hash.clone(),
            starts_at: pass.starts_at,
            expires_at: pass.expires_at,
            usable_once: pass.is_usable_once,
            used_at: pass.used_at,
        };
        match authn::tap::verify_tap(&stored, &candidate, now) {
            Ok(_) => {
                if !step.state.store.consume_tap(&pass.id, now).await? {
                    reason = "That temporary access pass has already been used.".into();
                    break;
                }
                return step
                    .succeeded(Performed::with(pass.mode(), &pass.id, None))
                    .await;
            }
            Err(authn::tap::TapError::Mismatch) => {}
            Err(e) => {
                reason = format!("{e}.");
                break;
            }
        }
    }
    step.failed(&attempt, &Mode::TemporaryAccessPassOneTime, reason)
        .await
}
