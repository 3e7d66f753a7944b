//! The demo users: who they are and what they hold, their credentials as seeding hands them back,
//! the file the CLI keeps them in, and how to sign in as each.

use super::*;

/// A directory role a demo user holds.
#[derive(Clone, Copy)]
pub(super) enum Holding {
    None,
    Eligible(&'static str),
    Active(&'static str),
}

/// Which group a demo user is put in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Membership {
    None,
    Admins,
    BreakGlass,
}

pub(super) struct UserSpec {
    pub(super) upn: &'static str,
    pub(super) display_name: &'static str,
    pub(super) role: &'static str,
    pub(super) totp: bool,
    pub(super) holding: Holding,
    pub(super) membership: Membership,
}

pub(super) const USERS: [UserSpec; 5] = [
    UserSpec {
        upn: "alice@demo.portcullis.test",
        display_name: "Alice Martin",
        role:
            "Ordinary user: password and authenticator app (TOTP); every sign-in needs MFA (CA001)",
        totp: true,
        holding: Holding::None,
        membership: Membership::None,
    },
    UserSpec {
        upn: "adele@demo.portcullis.test",
        display_name: "Adele Vance",
        role: "Eligible (not active) Global Administrator; activating it is context c1, which \
               needs phishing-resistant MFA every time (CA010)",
        totp: true,
        holding: Holding::Eligible(GLOBAL_ADMINISTRATOR),
        membership: Membership::Admins,
    },
    UserSpec {
        upn: "priya@demo.portcullis.test",
        display_name: "Priya Raman",
        role: "Eligible (not active) Privileged Role Administrator",
        totp: true,
        holding: Holding::Eligible(PRIVILEGED_ROLE_ADMINISTRATOR),
        membership: Membership::Admins,
    },
    UserSpec {
        upn: ADMIN_UPN,
        display_name: "Demo Administrator",
        role: "Active Privileged Role Administrator",
        totp: true,
        holding: Holding::Active(PRIVILEGED_ROLE_ADMINISTRATOR),
        membership: Membership::Admins,
    },
    UserSpec {
        upn: "breakglass@demo.portcullis.test",
        display_name: "Break-glass account",
        role: "Active Global Administrator for emergencies: password only, excluded from every \
               Conditional Access policy",
        totp: false,
        holding: Holding::Active(GLOBAL_ADMINISTRATOR),
        membership: Membership::BreakGlass,
    },
];

/// What the demo seeding created: everything needed to sign in as each demo user.
///
/// It holds passwords and TOTP secrets, so `Debug` leaves them out; the file
/// [`write_credentials_file`] writes is readable by its owner only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoCredentials {
    /// The issuer the demo was seeded under.
    pub issuer: String,
    /// The demo client's id.
    pub client_id: String,
    /// The demo client's redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The demo users.
    pub users: Vec<DemoUser>,
}

/// One demo user's sign-in name and credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoUser {
    /// Sign-in name.
    pub user_principal_name: String,
    /// Name shown to people.
    pub display_name: String,
    /// What the user holds and shows.
    pub role: String,
    /// The password.
    pub password: String,
    /// The TOTP secret in base32, for typing into an authenticator app; `None` for a user
    /// without one.
    pub totp_secret: Option<String>,
    /// The `otpauth://` URI of the TOTP secret (what a QR code would carry).
    pub otpauth_uri: Option<String>,
}

impl std::fmt::Debug for DemoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCredentials")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords and secrets stay out of logs.
        f.debug_struct("DemoUser")
            .field("user_principal_name", &self.user_principal_name)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl DemoCredentials {
    /// The demo user with this sign-in name (compared regardless of case).
    pub fn user(&self, upn: &str) -> Option<&DemoUser> {
        self.users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn.trim()))
    }
}
/// Writes `creds` as JSON to [`CREDENTIALS_FILE`] in `dir`, readable and writable by the owner
/// only (mode 0600, also when the file already existed), and returns its path.
pub fn write_credentials_file(dir: &Path, creds: &DemoCredentials) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    std::fs::create_dir_all(dir)?;
    let path = dir.join(CREDENTIALS_FILE);
    let json = serde_json::to_string_pretty(creds).map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    // `mode` applies only when the file is created: tighten an existing one too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(json.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(path)
}

/// Reads the credentials file [`write_credentials_file`] wrote in `dir`.
pub fn read_credentials_file(dir: &Path) -> std::io::Result<DemoCredentials> {
    let text = std::fs::read_to_string(dir.join(CREDENTIALS_FILE))?;
    serde_json::from_str(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
/// How to sign in to the demo, for a terminal: where to go, every user with role and
/// password, and how to get a TOTP code.
pub fn print_instructions(creds: &DemoCredentials, issuer: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let mut line = |text: String| {
        let _ = writeln!(out, "{text}");
    };
    line("Portcullis demo tenant".into());
    line(String::new());
    line(format!(
        "  Portal:        {issuer}/  (My access: sign in as {eligible}, eligible Global \
         Administrator, with her password and TOTP code; My roles, Activate, and the passkey \
         prompt of c1)",
        eligible = USERS[1].upn
    ));
    line(format!(
        "  Try it:        {issuer}/demo  (an OIDC client: sign in, then step up to c1 or c2)"
    ));
    line(format!(
        "  Security info: {issuer}/account  (register a passkey, a security key or an app)"
    ));
    line(format!(
        "  Issuer:        {issuer}  (discovery: {issuer}/.well-known/openid-configuration)"
    ));
    line(format!(
        "  Client:        {}  (public, PKCE S256; redirect URIs include {issuer}/demo/callback \
         and {LOCAL_REDIRECT_URI})",
        creds.client_id
    ));
    line(String::new());
    line("Users:".into());
    for u in &creds.users {
        line(String::new());
        line(format!("  {}  ({})", u.user_principal_name, u.display_name));
        line(format!("    {}", u.role));
        line(format!("    password:    {}", u.password));
        match &u.totp_secret {
            Some(secret) => {
                line(format!(
                    "    TOTP secret: {secret}  (base32, for an authenticator app)"
                ));
                line(format!(
                    "    TOTP code:   portcullis demo totp {}",
                    u.user_principal_name
                ));
            }
            None => line("    no second factor".into()),
        }
    }
    line(String::new());
    line(
        "A TOTP code: add the secret to an authenticator app, or run `portcullis demo totp UPN` \
         (with the same --data-dir)."
            .into(),
    );
    line(
        "Context c1 asks for a phishing-resistant method (a passkey or security key), which \
         the demo users do not have at first: an administrator's temporary access pass lets \
         them register one under Security info that counts (below). Passkeys need the issuer \
         to be https:// or http://localhost (open localhost, not 127.0.0.1)."
            .into(),
    );
    out
}
