//! `sessions-cli`: tables, demo data, keys and tokens for the Device Sessions API.
//!
//! It reads the same environment as the functions (`SESSIONS_TABLE`, `USERS_TABLE`,
//! `USER_EMAILS_TABLE`, `ACTIVITY_TABLE`, `DYNAMODB_ENDPOINT` for a local DynamoDB, the standard AWS variables
//! otherwise). Tokens are signed with `SIGNING_KEY` (base64 PKCS#8) and `SIGNING_KEY_ID`, or,
//! only where `APP_ENV=local`, with the dev-only key.

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clap::{Parser, Subcommand};
use shared::ApiError;
use shared::config::{Config, TlsRoots, process_var};
use shared::domain::time::now_epoch;
use shared::domain::{Role, UserId, UserResponse};
use shared::services::accounts::{NewUser, create_user};
use shared::services::alerts::{Alerts, Outbox};
use shared::services::second_factor::{begin_enrolment, confirm_enrolment};
use shared::testkit::{demo, relay, tables as create_tables};
use shared::tokens::TokenSigner;
use shared::tokens::keys::{JwkSet, SigningKey, signing_secret_json};
use shared::tokens::link::LinkKey;
use shared::{AppState, tables};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    version,
    about = "Admin and local-stack CLI for the Device Sessions API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the four tables (idempotent) from the definitions template.yaml also uses.
    CreateTables,
    /// Seed the demo users (admin 1, user 74 with sessions on four devices, user 75).
    Seed,
    /// Create a user (the first admin of a deployed stack, say) with the same rules as sign-up.
    /// The password is read from standard input (one line), or generated and printed once.
    CreateUser {
        /// Email.
        #[arg(long)]
        email: String,
        /// `admin` or `user`.
        #[arg(long, default_value = "user")]
        role: String,
        /// Display name (defaults to the email's local part).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Start a session for a user and print an access token for it.
    Token {
        /// The user id.
        #[arg(long)]
        user: u64,
        /// Token lifetime in minutes.
        #[arg(long, default_value_t = 15)]
        minutes: i64,
        /// The User-Agent recorded on the session.
        #[arg(long, default_value = "sessions-cli")]
        user_agent: String,
    },
    /// Generate a new Ed25519 signing key: prints the private key (base64 PKCS#8) to store as
    /// a secret, and the public JWK set for JWT_PUBLIC_KEYS.
    Keygen {
        /// Key id.
        #[arg(long)]
        kid: String,
        /// Also store the private key in AWS Secrets Manager under this name (standard AWS
        /// environment) and print the secret's ARN, for the stack's SigningKeySecretArn.
        #[arg(long)]
        secret_name: Option<String>,
    },
    /// Enrol a TOTP second factor for a user (an admin of a stack whose admin routes require
    /// one, say): prints the secret and its otpauth:// URI for their authenticator app, reads
    /// the app's first code from standard input, then prints the ten recovery codes once.
    /// Needs the second factor's key (MFA_KEY_SECRET_ARN, or MFA_KEY; the dev key locally).
    EnrolTotp {
        /// The user id.
        #[arg(long)]
        user: u64,
    },
    /// Remove a user's second factor (the last admin lost theirs and their recovery codes,
    /// say); they sign in with the password alone until they enrol again.
    RemoveTotp {
        /// The user id.
        #[arg(long)]
        user: u64,
    },
    /// End every session of every user at once (a key compromise, say): one write moves the
    /// global epoch; the command returns once every function has seen it. Users sign in again.
    EndAllSessions,
    /// Copy every item of an old sessions table (a stack deployed before the live index) into
    /// `SESSIONS_TABLE`, adding `live_until` to sessions not ended; items the new table already
    /// has are kept. Idempotent. See docs/operations.md, "Upgrading to the live index".
    CopySessions {
        /// The old sessions table's name.
        #[arg(long)]
        from: String,
    },
    /// The local stack's event publisher: reads the tables' streams on the local DynamoDB and
    /// appends each domain event (docs/events.md) to a JSON-lines file, and writes each
    /// new-sign-in alert as a file in `--outbox`, for ever (every `--interval-ms`), or once
    /// with `--once`. Resumes from its checkpoint after a restart.
    RelayEvents {
        /// Where events go, one JSON object per line.
        #[arg(long, default_value = ".data/events.jsonl")]
        out: PathBuf,
        /// How far it got (per stream shard).
        #[arg(long, default_value = ".data/events.checkpoint.json")]
        checkpoint: PathBuf,
        /// Where new-sign-in alerts go, one JSON file per message.
        #[arg(long, default_value = ".data/outbox")]
        outbox: PathBuf,
        /// The app's page the alerts' "This wasn't me" links open (the token follows in the
        /// fragment, `#token=`).
        #[arg(
            long,
            env = "ALERT_LINK_URL",
            default_value = "http://localhost:3000/not-me"
        )]
        link_url: String,
        /// Pause between polls, in milliseconds.
        #[arg(long, default_value_t = 250)]
        interval_ms: u64,
        /// Deliver what is there and stop.
        #[arg(long)]
        once: bool,
    },
    /// Write the events/ files with their token placeholders filled, for `cargo lambda invoke`.
    RenderEvents {
        /// Where the events/ files are.
        #[arg(long, default_value = "events")]
        from: PathBuf,
        /// Where to write the filled copies.
        #[arg(long, default_value = ".data/events")]
        out: PathBuf,
    },
}

/// The signer the functions would use (Secrets Manager, `SIGNING_KEY`, or the dev key where
/// `APP_ENV=local`), with a token lifetime of `ttl_seconds`.
async fn signer(state: &AppState, ttl_seconds: i64) -> Result<TokenSigner> {
    let state = state.clone().with_signer_from_env().await?;
    Ok(state
        .signer()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?
        .clone()
        .with_ttl(ttl_seconds))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::Keygen { kid, secret_name } = &cli.command {
        return keygen(kid, secret_name.as_deref()).await;
    }
    let state = cli_state().await?;
    let now = now_epoch();
    match cli.command {
        Command::CreateTables => create_all_tables(&state).await,
        Command::Seed => seed(&state, now).await,
        Command::CreateUser {
            email,
            role,
            display_name,
            password_stdin,
        } => {
            let role = match role.as_str() {
                "admin" => Role::Admin,
                "user" => Role::User,
                other => bail!("role must be admin or user, not {other:?}"),
            };
            new_user(
                &state,
                &email,
                role,
                display_name.as_deref(),
                password_stdin,
                now,
            )
            .await
        }
        Command::Token {
            user,
            minutes,
            user_agent,
        } => token(&state, user, minutes, &user_agent, now).await,
        Command::EndAllSessions => end_all_sessions(&state).await,
        Command::EnrolTotp { user } => enrol_totp(&state, user).await,
        Command::RemoveTotp { user } => {
            let user = UserId::new(user).ok_or_else(|| anyhow::anyhow!("not a user id: {user}"))?;
            // The operator's doing, not the user's: no `changed_by` (the events say so).
            let removed = state.store.remove_second_factor(user, None).await?;
            eprintln!(
                "second factor: {}",
                if removed { "removed" } else { "there was none" }
            );
            Ok(())
        }
        Command::CopySessions { from } => {
            let report = state
                .store
                .copy_sessions_from(&from)
                .await
                .with_context(|| format!("copying sessions from {from}"))?;
            println!(
                "copied {} items ({} sessions not ended), kept {} the new table already had",
                report.copied, report.live, report.kept
            );
            Ok(())
        }
        Command::RelayEvents {
            out,
            checkpoint,
            outbox,
            link_url,
            interval_ms,
            once,
        } => {
            let alerts = Alerts {
                links: LinkKey::from_secret(state.config.secrets.link_key.as_deref(), false)?,
                link_url,
                mailer: Outbox(outbox),
            };
            relay_events(&state, out, checkpoint, alerts, (interval_ms, once)).await
        }
        Command::RenderEvents { from, out } => render_events(&state, &from, &out, now).await,
        Command::Keygen { .. } => Ok(()),
    }
}

/// A new signing key: printed, or stored in Secrets Manager under `secret_name`.
async fn keygen(kid: &str, secret_name: Option<&str>) -> Result<()> {
    let key = SigningKey::generate(kid.to_owned())?;
    let set = JwkSet {
        keys: vec![key.public_jwk()],
    };
    match secret_name {
        Some(name) => {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(shared::store::https_client(TlsRoots::System))
                .load()
                .await;
            let out = aws_sdk_secretsmanager::Client::new(&sdk)
                .create_secret()
                .name(name)
                .description("Device Sessions API access-token signing key (Ed25519)")
                .secret_string(signing_secret_json(&key))
                .send()
                .await
                .context("creating the secret")?;
            println!("SigningKeySecretArn: {}", out.arn().unwrap_or_default());
        }
        None => println!(
            "signing-key secret value (store it in a secret manager, never commit it): {}",
            signing_secret_json(&key)
        ),
    }
    println!(
        "public key (add to JwtPublicKeys): {}",
        serde_json::to_string(&set.keys[0])?
    );
    Ok(())
}

/// The state the functions build, from the same environment. The CLI neither verifies access
/// tokens nor pages with cursors, so against a deployed stack it needs only the table names:
/// throwaway values stand in for the verifier's settings. (Locally the dev defaults apply,
/// and `token` checks its key against them.)
async fn cli_state() -> Result<AppState> {
    let local = process_var("APP_ENV").is_some_and(|v| v == "local");
    let stand_in_keys = serde_json::to_string(&JwkSet {
        keys: vec![SigningKey::generate("cli-stand-in")?.public_jwk()],
    })?;
    let stand_in_cursor = STANDARD.encode(
        shared::domain::ids::random_bytes::<32>().map_err(|e| anyhow::anyhow!(e.to_string()))?,
    );
    let config = Config::from_lookup(|name| {
        process_var(name).or_else(|| match name {
            "JWT_PUBLIC_KEYS" if !local => Some(stand_in_keys.clone()),
            "CURSOR_SECRET" if !local => Some(stand_in_cursor.clone()),
            _ => None,
        })
    })
    .context("loading configuration")?;
    AppState::build(config).await.context("building state")
}

/// Relays the local tables' streams into `out`, alerts into their outbox (see
/// [`shared::testkit::relay`]), every `interval_ms` or `once`.
async fn relay_events(
    state: &AppState,
    out: PathBuf,
    checkpoint: PathBuf,
    alerts: Alerts<Outbox>,
    (interval_ms, once): (u64, bool),
) -> Result<()> {
    let endpoint = state
        .config
        .dynamodb
        .endpoint
        .clone()
        .context("relay-events reads a local DynamoDB's streams: set DYNAMODB_ENDPOINT")?;
    let sdk = shared::store::aws_config(&state.config.dynamodb).await;
    let client = relay::Relay::client(&sdk, &endpoint);
    let retention = state.config.activity_retention_seconds;
    let relay =
        relay::Relay::new(client, state.store.clone(), retention, checkpoint).with_alerts(alerts);
    let mut sink = relay::JsonLines(out);
    loop {
        let polled = relay.poll(&mut sink).await;
        match (polled, once) {
            (Ok(delivered), true) => {
                eprintln!("relayed {delivered} events to {}", sink.0.display());
                return Ok(());
            }
            (Err(e), true) => bail!("relaying the tables' streams: {e}"),
            // The local stack goes on: the next poll starts again from the checkpoint.
            (Err(e), false) => eprintln!("relay-events: {e}; trying again"),
            (Ok(_), false) => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(interval_ms)).await;
    }
}

/// The four tables, from the definitions `template.yaml` also uses (idempotent).
async fn create_all_tables(state: &AppState) -> Result<()> {
    let store = &state.store;
    let names = store.tables();
    let named = [
        &names.sessions,
        &names.users,
        &names.user_emails,
        &names.activity,
    ];
    for (def, name) in tables::ALL.iter().zip(named) {
        let created = create_tables::create(store.client(), def, name)
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("creating table {name}"))?;
        let done = if created { "created" } else { "already there" };
        eprintln!("table {name}: {done}");
    }
    Ok(())
}

/// The demo users and their sessions (idempotent).
async fn seed(state: &AppState, now: i64) -> Result<()> {
    let signing = state
        .clone()
        .with_signer_from_env()
        .await?
        .with_refresh_key_from_env()
        .await?
        .with_factor_keys_from_env()
        .await?;
    let seeded = demo::seed(&signing, now)
        .await
        .map_err(|e| anyhow::anyhow!("{} ({})", e.detail(), e.code()))?;
    let done = if seeded { "seeded" } else { "already there" };
    eprintln!("demo data: {done}");
    Ok(())
}

/// A user created with the sign-up rules; the password from standard input, or generated and
/// printed once.
async fn new_user(
    state: &AppState,
    email: &str,
    role: Role,
    display_name: Option<&str>,
    password_stdin: bool,
    now: i64,
) -> Result<()> {
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        let bytes = shared::domain::ids::random_bytes::<18>()
            .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        (URL_SAFE_NO_PAD.encode(bytes), true)
    };
    let new = NewUser {
        email,
        password: &password,
        display_name,
        role,
        user_id: None,
    };
    let user = create_user(&state.store, &state.passwords, new, now)
        .await
        .map_err(|e| anyhow::anyhow!("{} ({})", e.detail(), e.code()))?;
    println!("{}", serde_json::to_string(&UserResponse::from(&user))?);
    if generated {
        eprintln!("generated password (shown once): {password}");
    }
    Ok(())
}

/// Enrols a TOTP factor for `user`: the secret shown, the first code read from standard
/// input (the clock is read again then), the recovery codes shown once.
async fn enrol_totp(state: &AppState, user: u64) -> Result<()> {
    let state = state.clone().with_factor_keys_from_env().await?;
    let user = UserId::new(user).ok_or_else(|| anyhow::anyhow!("not a user id: {user}"))?;
    let api = |e: ApiError| anyhow::anyhow!("{} ({})", e.detail(), e.code());
    let enrolment = begin_enrolment(&state, user, now_epoch())
        .await
        .map_err(api)?;
    println!("secret: {}", enrolment.secret);
    println!("uri:    {}", enrolment.uri);
    eprint!("the authenticator app's code: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let codes = confirm_enrolment(&state, user, line.trim(), None, now_epoch())
        .await
        .map_err(api)?;
    println!("recovery codes (shown once, each works once):");
    for code in codes {
        println!("  {code}");
    }
    Ok(())
}

/// A new session for `user` and an access token for it, living `minutes`.
async fn token(
    state: &AppState,
    user: u64,
    minutes: i64,
    user_agent: &str,
    now: i64,
) -> Result<()> {
    let store = &state.store;
    let user = UserId::new(user).with_context(|| format!("{user} is not a user id"))?;
    let account = store
        .get_user(user)
        .await?
        .with_context(|| format!("no user {user}"))?;
    let policy = &state.config.sessions;
    let session = demo::start_session(store, user, user_agent, "127.0.0.1", now, policy).await?;
    let ttl = state.config.auth.access_token_ttl_seconds;
    if minutes * 60 > ttl {
        bail!(
            "--minutes: the functions refuse tokens that live longer than ACCESS_TOKEN_TTL_SECONDS ({ttl} s)"
        );
    }
    let signer = signer(state, minutes * 60).await?;
    println!("{}", signer.issue_for(&session, account.role, now)?);
    Ok(())
}

/// Every session of every user over: the global epoch moves, then the command waits until
/// every function has seen it.
async fn end_all_sessions(state: &AppState) -> Result<()> {
    let epoch = state.store.end_every_session().await?;
    eprintln!("global epoch is now {epoch}; waiting for every function to see it...");
    // Each function trusts the epoch it read for at most this long.
    let wait = shared::store::GLOBAL_EPOCH_MAX_AGE + std::time::Duration::from_secs(1);
    tokio::time::sleep(wait).await;
    println!("every session that existed before is over (global epoch {epoch})");
    Ok(())
}

/// The event files under `from`, with their token placeholders filled, written under `out`.
async fn render_events(state: &AppState, from: &Path, out: &Path, now: i64) -> Result<()> {
    let signer = signer(state, TokenSigner::DEFAULT_TTL_SECONDS).await?;
    let keyed = state
        .clone()
        .with_refresh_key_from_env()
        .await?
        .with_factor_keys_from_env()
        .await?
        .with_signer_from_env()
        .await?;
    let refresh_key = keyed
        .refresh_key()
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let policy = &state.config.sessions;
    let mut tokens = demo::event_tokens(&state.store, &signer, refresh_key, now, policy)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let enrolment = demo::enrolment_tokens(&keyed, now).await;
    tokens.extend(enrolment.map_err(|e| anyhow::anyhow!(e))?);
    let factor = demo::factor_tokens(&keyed, now).await;
    tokens.extend(factor.map_err(|e| anyhow::anyhow!(e))?);
    let mut written = 0;
    for dir in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let dir = dir?.path();
        if !dir.is_dir() {
            continue;
        }
        let target = out.join(dir.file_name().unwrap_or_default());
        std::fs::create_dir_all(&target)?;
        for file in std::fs::read_dir(&dir)? {
            let file = file?.path();
            if file.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&file)?;
                let rendered = demo::render_event(&text, &tokens);
                std::fs::write(target.join(file.file_name().unwrap_or_default()), rendered)?;
                written += 1;
            }
        }
    }
    eprintln!("{written} event files written to {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    // The aliases are aws-config's own; their new home (aws-runtime) is not a dependency here.
    #![allow(deprecated)]
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
    use aws_sdk_dynamodb::config::ProvideCredentials;
    use aws_sdk_dynamodb::error::DisplayErrorContext;

    fn provider(config: &str, profile: &str) -> ProfileFileCredentialsProvider {
        let files = ProfileFiles::builder()
            .include_default_config_file(false)
            .include_default_credentials_file(false)
            .with_contents(ProfileFileKind::Config, config)
            .build();
        // As `shared::store::aws_config` sets it up for the CLI: rustls on ring, system roots.
        let http = shared::store::https_client(shared::config::TlsRoots::System);
        let config = aws_config::provider_config::ProviderConfig::default().with_http_client(http);
        ProfileFileCredentialsProvider::builder()
            .configure(&config)
            .profile_files(files)
            .profile_name(profile)
            .build()
    }

    #[tokio::test]
    async fn profiles_with_credential_process_give_credentials() {
        let config = "[profile proc]\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDFROMPROCESS\", \"SecretAccessKey\": \"s\"}'\n";
        let credentials = provider(config, "proc")
            .provide_credentials()
            .await
            .expect("credential_process runs");
        assert_eq!(credentials.access_key_id(), "AKIDFROMPROCESS");
    }

    #[tokio::test]
    async fn profiles_with_iam_identity_center_are_understood() {
        // No cached sign-in here, so no credentials: but the profile is read as an SSO one,
        // not refused for a missing cargo feature.
        let config = "[profile corp]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n";
        let err = provider(config, "corp")
            .provide_credentials()
            .await
            .expect_err("nobody signed in");
        let text = DisplayErrorContext(&err).to_string();
        assert!(!text.contains("cargo feature"), "{text}");
        assert!(
            text.to_lowercase().contains("sso") || text.contains("token"),
            "{text}"
        );
    }
}
