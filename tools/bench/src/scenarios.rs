//! What each function is asked, 1,000 times: the success event of its `events/` directory,
//! rendered with tokens. Routes that use something up (a refresh token, a session to end, an
//! email to register) get fresh data for every invocation; routes that need a recent sign-in
//! get a fresh session.

use anyhow::{Context, Result};
use serde_json::Value;
use shared::AppState;
use shared::domain::Role;
use shared::testkit::demo::{self, ADMIN_ID, PLAIN_USER_ID};
use shared::tokens::link::{LINK_LIFETIME_SECONDS, LinkKey};
use shared::tokens::refresh::{RefreshKey, new_family};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15";

/// One function's workload.
pub struct Scenario {
    /// The function (binary) name.
    pub function: &'static str,
    /// The route, for the report.
    pub route: &'static str,
    /// The status every invocation must answer.
    pub status: u16,
    /// Memory the template gives the function, in MB.
    pub memory_mb: u32,
    /// The event file used.
    file: &'static str,
    /// What changes per invocation.
    fresh: Fresh,
    /// At most this many invocations per run: a route whose events hold a TOTP code must get
    /// through them while the function accepts the code (at least a minute after they are
    /// made; see `next_code` in [`Scenario::events`]), at every size tried.
    pub cap: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fresh {
    Nothing,
    /// `{{target_session_id}}`: a session of user 75 to end.
    TargetSession,
    /// `{{user_other_session_id}}`: another session of the token's user to end.
    OwnOtherSession,
    /// `{{user_refresh_token}}`.
    RefreshToken,
    /// `{{logout_token}}`.
    LogoutToken,
    /// `{{user_token}}`: one fresh sign-in for the whole run (routes that need a recent one).
    UserToken,
    /// `{{admin_token}}`: one fresh sign-in of the admin for the whole run.
    AdminToken,
    /// A new email in the body.
    NewEmail,
    /// The password alternates between two values.
    AlternatePassword,
    /// `{{not_me_token}}`: an alert's link to a new session of user 75.
    NotMeLink,
    /// `{{factor_token}}`: one aal2 sign-in of a user with a second factor for the whole run.
    FactorToken,
    /// `{{user_token}}` and `{{enrolment_code}}`: a new user, signed in, with a TOTP enrolment
    /// waiting for its first code.
    NewEnrolment,
    /// `{{mfa_challenge}}` and `{{totp_code}}`: a new user with a second factor, half-way
    /// through signing in.
    NewChallenge,
    /// `{{factor_removal_token}}`: a new user with a second factor, just signed in with it.
    NewFactorSession,
}

/// Ids of the users the bench creates, far above the demo's and the events'.
static NEXT_USER: AtomicU64 = AtomicU64::new(1_000_000);

/// Every function, in the order of the report.
pub fn all() -> Vec<Scenario> {
    use Fresh::*;
    let s = |function, route, status, memory_mb, file, fresh| Scenario {
        function,
        route,
        status,
        memory_mb,
        file,
        fresh,
        cap: usize::MAX,
    };
    vec![
        s(
            "get-user-sessions",
            "GET /sessions/user/{user_id}",
            200,
            256,
            "200-admin-lists-user-74.json",
            Nothing,
        ),
        s(
            "list-my-sessions",
            "GET /sessions",
            200,
            1024,
            "200-my-sessions.json",
            Nothing,
        ),
        s(
            "admin-revoke-session",
            "DELETE /sessions/user/{user_id}/{session_id}",
            204,
            256,
            "204-admin-ends-a-session.json",
            TargetSession,
        ),
        s(
            "admin-revoke-user-sessions",
            "DELETE /sessions/user/{user_id}",
            200,
            128,
            "200-admin-ends-all-of-a-users-sessions.json",
            Nothing,
        ),
        s(
            "update-user",
            "PATCH /users/{user_id}",
            200,
            256,
            "200-enable-a-user.json",
            AdminToken,
        ),
        s(
            "register",
            "POST /auth/register",
            201,
            1769,
            "201-new-user.json",
            NewEmail,
        ),
        s(
            "login",
            "POST /auth/login",
            200,
            1769,
            "200-jane-signs-in-from-an-iphone.json",
            Nothing,
        ),
        s(
            "refresh",
            "POST /auth/refresh",
            200,
            1024,
            "200-rotates-the-refresh-token.json",
            RefreshToken,
        ),
        s(
            "logout",
            "POST /auth/logout",
            204,
            256,
            "204-sign-out.json",
            LogoutToken,
        ),
        s(
            "change-password",
            "POST /auth/password",
            200,
            1769,
            "200-password-changed-ending-other-sessions.json",
            AlternatePassword,
        ),
        s(
            "reauthenticate",
            "POST /auth/reauthenticate",
            200,
            1769,
            "200-confirms-the-password.json",
            Nothing,
        ),
        s(
            "revoke-my-session",
            "DELETE /sessions/{session_id}",
            204,
            256,
            "204-ends-one-of-my-sessions.json",
            OwnOtherSession,
        ),
        s(
            "rename-session",
            "PATCH /sessions/{session_id}",
            200,
            256,
            "200-labels-one-of-my-sessions.json",
            Nothing,
        ),
        s(
            "revoke-other-sessions",
            "DELETE /sessions?scope=others",
            200,
            128,
            "200-ends-my-other-sessions.json",
            UserToken,
        ),
        s(
            "jwks",
            "GET /.well-known/jwks.json",
            200,
            256,
            "200-public-keys.json",
            Nothing,
        ),
        s(
            "get-current-session",
            "GET /sessions/current",
            200,
            128,
            "200-sam-looks-at-his-session.json",
            Nothing,
        ),
        s(
            "introspect",
            "POST /auth/introspect",
            200,
            128,
            "200-the-orders-service-asks-about-a-live-token.json",
            Nothing,
        ),
        s(
            "get-user-activity",
            "GET /users/{user_id}/activity",
            200,
            256,
            "200-admin-reads-user-74.json",
            Nothing,
        ),
        s(
            "list-my-activity",
            "GET /me/activity",
            200,
            512,
            "200-my-activity.json",
            Nothing,
        ),
        s(
            "report-sign-in",
            "POST /auth/not-me",
            200,
            256,
            "200-ends-the-reported-session.json",
            NotMeLink,
        ),
        Scenario {
            // 500 did not end inside the codes' minute at 256 MB in a full run (the last 143
            // answered 401); 200 do at every size.
            cap: 200,
            ..s(
                "login-mfa",
                "POST /auth/mfa",
                200,
                256,
                "200-ops-admin-completes-with-a-totp-code.json",
                NewChallenge,
            )
        },
        s(
            "enrol-totp",
            "POST /me/mfa/totp",
            200,
            256,
            "200-sam-begins-a-totp-enrolment.json",
            UserToken,
        ),
        Scenario {
            // Each confirmation checks the password (argon2id, about 0.5 s at 128 MB's share):
            // 100 end inside the codes' minute.
            cap: 100,
            ..s(
                "confirm-totp",
                "POST /me/mfa/totp/confirm",
                200,
                1769,
                "200-sam-confirms-with-his-first-code.json",
                NewEnrolment,
            )
        },
        s(
            "regenerate-recovery-codes",
            "POST /me/mfa/recovery-codes",
            200,
            256,
            "200-lee-gets-ten-new-recovery-codes.json",
            FactorToken,
        ),
        s(
            "remove-totp",
            "DELETE /me/mfa/totp",
            204,
            256,
            "204-kim-removes-her-second-factor.json",
            NewFactorSession,
        ),
    ]
}

/// The passwords change-password alternates between (both pass the policy).
const PASSWORDS: [&str; 2] = [demo::DEMO_PASSWORD, "another long secret 2"];

impl Scenario {
    /// Items the route's `BatchGetItem` reads: the caller's session and user, and the target
    /// user on the admin routes that read it in the same batch (`Caller::admin` with a target).
    pub fn batch_items(&self) -> f64 {
        match self.function {
            "get-user-sessions" | "get-user-activity" | "admin-revoke-user-sessions" => 3.0,
            _ => 2.0,
        }
    }

    /// `count` rendered events. `tokens` holds the placeholders that stay the same.
    pub async fn events(
        &self,
        state: &AppState,
        root: &Path,
        tokens: &BTreeMap<&'static str, String>,
        count: usize,
    ) -> Result<Vec<String>> {
        let path = root.join("events").join(self.function).join(self.file);
        let template = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let store = &state.store;
        let policy = &state.config.sessions;
        let signer = state.signer()?;
        let now = shared::domain::time::now_epoch();
        // Fresh sessions behind every placeholder for each function: an earlier function's run
        // (a password change ends the user's other sessions) leaves nothing this one needs.
        let mut base = tokens.clone();
        base.extend(
            demo::event_tokens(store, signer, state.refresh_key()?, now, policy)
                .await
                .map_err(|e| anyhow::anyhow!(e))?,
        );
        // Routes that need a recent sign-in get one, made now, shared by all invocations.
        match self.fresh {
            Fresh::UserToken | Fresh::AlternatePassword => {
                let s = demo::start_session(store, PLAIN_USER_ID, UA, "192.0.2.22", now, policy)
                    .await?;
                base.insert("user_token", signer.issue_for(&s, Role::User, now)?);
            }
            Fresh::AdminToken => {
                let s = demo::start_session(store, ADMIN_ID, UA, "192.0.2.23", now, policy).await?;
                base.insert("admin_token", signer.issue_for(&s, Role::Admin, now)?);
            }
            Fresh::FactorToken => {
                base.extend(
                    demo::factor_tokens(state, now)
                        .await
                        .map_err(|e| anyhow::anyhow!(e))?,
                );
            }
            _ => {}
        }
        // New users first (each costs an argon2id hash), so the time-bound parts made below
        // (TOTP codes, challenges) are as fresh as they can be when the run starts.
        let mut new_users = Vec::new();
        if matches!(
            self.fresh,
            Fresh::NewEnrolment | Fresh::NewChallenge | Fresh::NewFactorSession
        ) {
            for _ in 0..count {
                let id = shared::domain::UserId::of(NEXT_USER.fetch_add(1, Ordering::Relaxed));
                let email = format!("bench-{id}@example.com");
                demo::ensure_demo_user(state, id, &email, now).await?;
                if self.fresh == Fresh::NewChallenge {
                    demo::give_demo_factor(state, id, now).await?;
                }
                new_users.push((id, email));
            }
        }
        let now = shared::domain::time::now_epoch();
        // The code of the step after now's: accepted until two steps after now's (one step
        // either side), so for at least a minute.
        let next_code = || {
            let step = shared::domain::totp::step_at(now).unwrap_or_default() + 1;
            demo::demo_totp_code_at(step)
        };
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let mut t = base.clone();
            match self.fresh {
                Fresh::Nothing => {}
                Fresh::TargetSession | Fresh::OwnOtherSession => {
                    let s =
                        demo::start_session(store, PLAIN_USER_ID, UA, "192.0.2.20", now, policy)
                            .await?;
                    let key = if self.fresh == Fresh::TargetSession {
                        "target_session_id"
                    } else {
                        "user_other_session_id"
                    };
                    t.insert(key, s.session_id);
                }
                Fresh::RefreshToken => {
                    // A session in the user's current epochs, with a refresh-token family.
                    let mut s =
                        demo::start_session(store, PLAIN_USER_ID, UA, "192.0.2.21", now, policy)
                            .await?;
                    let family = new_family().map_err(|e| anyhow::anyhow!(e.to_string()))?;
                    let refresh = RefreshKey::dev().issue(PLAIN_USER_ID, &s.session_id, &family, 0);
                    s.refresh_family = Some(family);
                    store.replace_session(&s).await?;
                    t.insert("user_refresh_token", refresh.expose());
                }
                Fresh::LogoutToken => {
                    let s =
                        demo::start_session(store, PLAIN_USER_ID, UA, "192.0.2.22", now, policy)
                            .await?;
                    let token = signer.issue_for(&s, Role::User, now)?;
                    t.insert("logout_token", token);
                }
                Fresh::NotMeLink => {
                    let s =
                        demo::start_session(store, PLAIN_USER_ID, UA, "192.0.2.24", now, policy)
                            .await?;
                    let link = LinkKey::dev().issue(
                        PLAIN_USER_ID,
                        &s.session_id,
                        now + LINK_LIFETIME_SECONDS,
                    );
                    t.insert("not_me_token", link);
                }
                Fresh::NewEnrolment => {
                    let (id, _) = &new_users[i];
                    let s = demo::start_session(store, *id, UA, "192.0.2.25", now, policy).await?;
                    t.insert("user_token", signer.issue_for(&s, Role::User, now)?);
                    demo::begin_demo_enrolment(state, *id, now)
                        .await
                        .map_err(|e| anyhow::anyhow!(e))?;
                    t.insert("enrolment_code", next_code()?);
                }
                Fresh::NewChallenge => {
                    let (id, email) = &new_users[i];
                    let challenge = demo::challenge_for(store, *id, email, now)
                        .await
                        .map_err(|e| anyhow::anyhow!(e))?;
                    t.insert("mfa_challenge", challenge);
                    t.insert("totp_code", next_code()?);
                }
                Fresh::NewFactorSession => {
                    let (id, _) = &new_users[i];
                    let token = demo::factor_session_token(state, *id, now)
                        .await
                        .map_err(|e| anyhow::anyhow!(e))?;
                    t.insert("factor_removal_token", token);
                }
                Fresh::UserToken
                | Fresh::AdminToken
                | Fresh::AlternatePassword
                | Fresh::NewEmail
                | Fresh::FactorToken => {}
            }
            let mut event: Value = serde_json::from_str(&demo::render_event(&template, &t))?;
            match self.fresh {
                Fresh::NewEmail => {
                    event["body"] = Value::String(
                        serde_json::json!({
                            "email": format!("bench-{i}-{now}@example.com"),
                            "password": "a long enough secret",
                        })
                        .to_string(),
                    );
                }
                Fresh::AlternatePassword => {
                    event["body"] = Value::String(
                        serde_json::json!({
                            "current_password": PASSWORDS[i % 2],
                            "new_password": PASSWORDS[(i + 1) % 2],
                        })
                        .to_string(),
                    );
                }
                _ => {}
            }
            out.push(event.to_string());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench measures and prices each function at the memory size it is deployed with.
    #[test]
    fn every_scenario_runs_at_its_functions_deployed_size() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
        let text = std::fs::read_to_string(path).expect("template.yaml");
        let t: serde_norway::Value = serde_norway::from_str(&text).expect("valid YAML");
        let default = t["Globals"]["Function"]["MemorySize"].as_u64();
        let mut deployed = std::collections::HashMap::new();
        for (_, resource) in t["Resources"].as_mapping().expect("resources") {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str();
            let size = resource["Properties"]["MemorySize"].as_u64().or(default);
            deployed.insert(binary.expect("a binary").to_owned(), size);
        }
        for scenario in all() {
            assert_eq!(
                deployed.get(scenario.function).copied().flatten(),
                Some(u64::from(scenario.memory_mb)),
                "{}",
                scenario.function
            );
        }
    }
}
