//! A model-based concurrency test of revocation. Random batches of sign-ins, refreshes (with
//! replays of old refresh tokens), password changes, "end all others", ending one session,
//! sign-outs, an admin ending all of a user's sessions, and disabling and re-enabling users
//! run at the same time, in process, against Dynoxide (not through `cargo lambda watch`, which
//! runs one instance per function and so hides races). After every batch the model checks:
//!
//! - no session that something ended, or that a credential change superseded, is usable: its
//!   latest access token is refused and its latest refresh token refreshes nothing;
//! - every refresh generation of a session has at most one successor (one 200 per generation);
//! - a replayed refresh token that was answered `refresh_token_reused` ended its whole family.
//!
//! Each seed fixes the random draws; the interleavings are real, so two runs of a seed differ
//! and a failure names its seed, batch and operations. `MODEL_SEEDS=n` runs more seeds.

use api_tests::{CHROME_WINDOWS, Reply, TestApp, TestEnv};
use serde_json::json;
use shared::AppState;
use shared::domain::UserId;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID, USER_ID};
use std::collections::{BTreeMap, BTreeSet};

/// A small deterministic generator (xorshift64*): the same seed, the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What the model knows of one session.
#[derive(Debug, Clone)]
struct Session {
    user: UserId,
    id: String,
    access: String,
    /// Generation → refresh token, every one ever issued.
    refresh: BTreeMap<u64, String>,
    /// Set once something ended it (or superseded it); never cleared.
    dead: bool,
    /// The batch that created it.
    born: usize,
}

impl Session {
    fn latest(&self) -> (u64, String) {
        let (g, t) = self.refresh.iter().next_back().unwrap();
        (*g, t.clone())
    }
}

#[derive(Debug, Clone)]
enum Op {
    SignIn {
        user: UserId,
    },
    Refresh {
        session: usize,
        generation: u64,
        token: String,
    },
    Logout {
        session: usize,
    },
    EndOne {
        actor: usize,
        target: usize,
    },
    EndOthers {
        actor: usize,
    },
    ChangePassword {
        actor: usize,
        new: String,
    },
    AdminEndAll {
        user: UserId,
    },
    Disable {
        user: UserId,
    },
    Enable {
        user: UserId,
    },
}

fn email(user: UserId) -> &'static str {
    if user == USER_ID {
        "jane@example.com"
    } else {
        "sam@example.com"
    }
}

/// Runs one operation as its client would: sign-ins from a browser, the rest bare.
async fn run(
    state: &AppState,
    op: &Op,
    sessions: &[Session],
    password: &str,
    admin: &str,
) -> Reply {
    let app = TestApp::new(state);
    match op {
        Op::SignIn { user } => {
            app.with_user_agent(CHROME_WINDOWS)
                .login(email(*user), password)
                .await
        }
        Op::Refresh { token, .. } => app.refresh(token).await,
        Op::Logout { session } => app.logout(&sessions[*session].access).await,
        Op::EndOne { actor, target } => {
            let (token, id) = (&sessions[*actor].access, &sessions[*target].id);
            app.revoke_my_session(token, id).await
        }
        Op::EndOthers { actor } => {
            let token = &sessions[*actor].access;
            app.revoke_other_sessions(token, "scope=others").await
        }
        Op::ChangePassword { actor, new } => {
            let token = &sessions[*actor].access;
            app.change_password(token, password, new).await
        }
        Op::AdminEndAll { user } => {
            let user = user.to_string();
            app.admin_revoke_user_sessions(admin, &user).await
        }
        Op::Disable { user } | Op::Enable { user } => {
            let disabled = matches!(op, Op::Disable { .. });
            let user = user.to_string();
            app.update_user(admin, &user, json!({"disabled": disabled}))
                .await
        }
    }
}

/// Whether anything of a session still works.
async fn usable(state: &AppState, session: &Session) -> Result<bool, String> {
    let app = TestApp::new(state);
    let listed = app.list_my_sessions(&session.access, "").await;
    let (_, latest) = session.latest();
    let refreshed = app.refresh(&latest).await;
    for r in [&listed, &refreshed] {
        if !matches!(r.status, 200 | 401 | 409) {
            return Err(format!("unexpected {}: {}", r.status, r.body));
        }
    }
    Ok(listed.status == 200 || refreshed.status == 200)
}

/// The ops of one batch, drawn from the model.
fn draw(rng: &mut Rng, sessions: &[Session], disabled: &BTreeSet<UserId>, batch: usize) -> Vec<Op> {
    let users = [USER_ID, PLAIN_USER_ID];
    let live: Vec<usize> = (0..sessions.len()).filter(|i| !sessions[*i].dead).collect();
    let mut ops = Vec::new();
    let mut touched_users = BTreeSet::new();
    for _ in 0..6 {
        let user = users[rng.below(2)];
        let mine: Vec<usize> = live
            .iter()
            .copied()
            .filter(|i| sessions[*i].user == user)
            .collect();
        let pick = |rng: &mut Rng| mine[rng.below(mine.len())];
        // A disabled user is soon enabled again, so that most of the run has users to work on.
        if disabled.contains(&user) && rng.below(2) == 0 && touched_users.insert(user) {
            ops.push(Op::Enable { user });
            continue;
        }
        let op = match rng.below(22) {
            0..=3 => Op::SignIn { user },
            4..=13 if !mine.is_empty() => {
                let session = pick(rng);
                let (latest, _) = sessions[session].latest();
                // Mostly the latest generation; now and then a replay of an older one.
                let generation = match rng.below(10) {
                    // Older than the previous generation: a replay the grace window never covers.
                    0..=3 if latest >= 2 => rng.below(latest as usize - 1) as u64,
                    // The previous generation: 409 inside the grace window, theft after it.
                    4 if latest >= 1 => latest - 1,
                    _ => latest,
                };
                let token = sessions[session].refresh[&generation].clone();
                Op::Refresh {
                    session,
                    generation,
                    token,
                }
            }
            14..=15 if !mine.is_empty() => Op::Logout { session: pick(rng) },
            16..=17 if mine.len() >= 2 => Op::EndOne {
                actor: pick(rng),
                target: pick(rng),
            },
            18 if !mine.is_empty() && touched_users.insert(user) => {
                Op::EndOthers { actor: pick(rng) }
            }
            19 if !mine.is_empty() && touched_users.insert(user) => Op::ChangePassword {
                actor: pick(rng),
                new: format!("model password {batch} {}", rng.below(1000)),
            },
            20 if touched_users.insert(user) => Op::AdminEndAll { user },
            21 if touched_users.insert(user) => {
                if disabled.contains(&user) {
                    Op::Enable { user }
                } else {
                    Op::Disable { user }
                }
            }
            _ => Op::SignIn { user },
        };
        ops.push(op);
    }
    ops
}

/// What one seed's run exercised.
#[derive(Debug, Default)]
struct Tally {
    thefts: usize,
    checked: usize,
}

async fn one_seed(seed: u64) -> Tally {
    let env = TestEnv::seeded_with(&[
        ("REFRESH_REUSE_GRACE_SECONDS", "0"),
        ("LOGIN_MAX_FAILURES", "100"),
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "100000"),
    ])
    .await;
    let state = &env.state;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (_, admin) = env.login(ADMIN_ID, shared::domain::Role::Admin).await;
    let mut passwords: BTreeMap<UserId, String> = [
        (USER_ID, DEMO_PASSWORD.to_owned()),
        (PLAIN_USER_ID, DEMO_PASSWORD.to_owned()),
    ]
    .into();
    let mut disabled: BTreeSet<UserId> = BTreeSet::new();
    let mut sessions: Vec<Session> = Vec::new();
    let mut successors: BTreeMap<(usize, u64), usize> = BTreeMap::new();
    let mut thefts = 0;
    let mut ok = 0;
    let mut checked = 0;
    for batch in 0..30 {
        let ops = draw(&mut rng, &sessions, &disabled, batch);
        let mut tasks = tokio::task::JoinSet::new();
        for (i, op) in ops.iter().cloned().enumerate() {
            let state = state.clone();
            let snapshot = sessions.clone();
            let user = match &op {
                Op::SignIn { user }
                | Op::AdminEndAll { user }
                | Op::Disable { user }
                | Op::Enable { user } => *user,
                Op::Refresh { session, .. } | Op::Logout { session } => snapshot[*session].user,
                Op::EndOne { actor, .. }
                | Op::EndOthers { actor }
                | Op::ChangePassword { actor, .. } => snapshot[*actor].user,
            };
            let (password, admin) = (passwords[&user].clone(), admin.clone());
            tasks.spawn(async move { (i, run(&state, &op, &snapshot, &password, &admin).await) });
        }
        let mut replies: Vec<Option<Reply>> = (0..ops.len()).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            let (i, reply) = done.unwrap();
            assert!(
                reply.status < 500,
                "seed {seed} batch {batch} {:?}: {}",
                ops[i],
                reply.body
            );
            replies[i] = Some(reply);
        }

        // What the batch did, as the model sees it.
        let existed = sessions.len();
        let mut kills: BTreeSet<usize> = BTreeSet::new();
        for (op, reply) in ops.iter().zip(replies.iter().flatten()) {
            if reply.status < 300 {
                ok += 1;
            }
            match op {
                Op::SignIn { user } if reply.status == 200 => sessions.push(Session {
                    user: *user,
                    id: reply.body["session"]["id"].as_str().unwrap().to_owned(),
                    access: reply.body["access_token"].as_str().unwrap().to_owned(),
                    refresh: [(0, reply.body["refresh_token"].as_str().unwrap().to_owned())].into(),
                    dead: false,
                    born: batch,
                }),
                Op::Refresh {
                    session,
                    generation,
                    ..
                } => match reply.status {
                    200 => {
                        let n = successors.entry((*session, *generation)).or_default();
                        *n += 1;
                        assert_eq!(
                            *n, 1,
                            "seed {seed}: generation {generation} of a session got two successors"
                        );
                        let s = &mut sessions[*session];
                        s.access = reply.body["access_token"].as_str().unwrap().to_owned();
                        s.refresh.insert(
                            generation + 1,
                            reply.body["refresh_token"].as_str().unwrap().to_owned(),
                        );
                    }
                    401 if reply.body["code"] == "refresh_token_reused" => {
                        thefts += 1;
                        kills.insert(*session);
                    }
                    _ => {}
                },
                Op::Logout { session } if reply.status == 204 => {
                    kills.insert(*session);
                }
                Op::EndOne { target, .. } if reply.status == 204 => {
                    kills.insert(*target);
                }
                Op::EndOthers { actor } if reply.status == 200 => {
                    let user = sessions[*actor].user;
                    kills.extend((0..existed).filter(|i| {
                        *i != *actor && sessions[*i].user == user && sessions[*i].born < batch
                    }));
                }
                Op::AdminEndAll { user } if reply.status == 200 => {
                    kills.extend(
                        (0..existed)
                            .filter(|i| sessions[*i].user == *user && sessions[*i].born < batch),
                    );
                }
                Op::ChangePassword { actor, new } if reply.status == 200 => {
                    let user = sessions[*actor].user;
                    // Every session of the old password: earlier ones and this batch's sign-ins.
                    kills.extend(
                        (0..sessions.len()).filter(|i| *i != *actor && sessions[*i].user == user),
                    );
                    passwords.insert(user, new.clone());
                }
                Op::Disable { user } if reply.status == 200 => {
                    kills.extend((0..sessions.len()).filter(|i| sessions[*i].user == *user));
                    disabled.insert(*user);
                }
                Op::Enable { user } if reply.status == 200 => {
                    disabled.remove(user);
                }
                _ => {}
            }
        }
        for i in &kills {
            sessions[*i].dead = true;
        }
        // The invariants: whatever died in this batch, and a few that died before, stay dead.
        let mut check: Vec<usize> = kills.iter().copied().collect();
        let earlier: Vec<usize> = (0..sessions.len())
            .filter(|i| sessions[*i].dead && !kills.contains(i))
            .collect();
        for _ in 0..3.min(earlier.len()) {
            check.push(earlier[rng.below(earlier.len())]);
        }
        for i in check {
            checked += 1;
            let alive = usable(state, &sessions[i])
                .await
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(
                !alive,
                "seed {seed} batch {batch}: session {i} ({}) is usable after it ended; ops {ops:?}",
                sessions[i].id
            );
        }
    }
    assert!(
        ok > 40,
        "seed {seed}: too few operations succeeded ({ok}) to mean anything"
    );
    assert!(
        sessions.len() > 10,
        "seed {seed}: {} sessions",
        sessions.len()
    );
    eprintln!(
        "seed {seed}: {} sessions, {ok} successful operations, {thefts} thefts caught, {checked} ended sessions checked",
        sessions.len()
    );
    Tally { thefts, checked }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_holds_under_random_concurrent_operations() {
    let seeds: u64 = std::env::var("MODEL_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut total = Tally::default();
    for seed in 1..=seeds {
        let tally = one_seed(seed).await;
        total.thefts += tally.thefts;
        total.checked += tally.checked;
    }
    // A run that caught no replay or checked no ended session would prove little.
    assert!(total.thefts >= 3, "{total:?}");
    assert!(total.checked >= 100, "{total:?}");
}
