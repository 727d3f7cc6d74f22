//! The tables' definitions: one source for the local stack, the tests and (checked by a test)
//! `template.yaml`.

/// Name of the sessions index ordered by `last_activity`.
pub const BY_ACTIVITY_INDEX: &str = "by_activity";

/// Name of the sessions table's local index of sessions not ended, by `live_until`.
pub const LIVE_INDEX: &str = "live";

/// The attribute [`LIVE_INDEX`] is sorted by: a session's `expires_at` while it has not ended,
/// removed when it ends. Sparse, so the index holds only sessions not ended, and a query for
/// `live_until > now` reads only those not expired either: what a user's active sessions cost
/// does not grow with their history. Local, so it can be read strongly consistently.
pub const LIVE_UNTIL: &str = "live_until";

/// The attribute `sessions-cli copy-sessions` adds to every item it copies into a new sessions
/// table (when, Unix seconds): the event publisher takes such an arrival for no sign-in.
pub const COPIED: &str = "copied_at";

/// A key attribute: name and scalar type (`N` or `S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: &'static str,
    /// `N` or `S`.
    pub ty: &'static str,
}

/// A secondary index: global, or local to the table's partition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    /// Whether the index holds only the keys (`KEYS_ONLY`) rather than whole items (`ALL`).
    pub keys_only: bool,
    /// Index name.
    pub name: &'static str,
    /// Partition key.
    pub partition: KeyAttr,
    /// Sort key.
    pub sort: Option<KeyAttr>,
}

/// A table as the code expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Logical id of the table in `template.yaml`.
    pub logical_id: &'static str,
    /// Environment variable that carries the table's name.
    pub env_var: &'static str,
    /// Partition key.
    pub partition: KeyAttr,
    /// Sort key.
    pub sort: Option<KeyAttr>,
    /// Global secondary indexes.
    pub indexes: &'static [IndexDef],
    /// Local secondary indexes (their partition key is the table's).
    pub local_indexes: &'static [IndexDef],
    /// TTL attribute, if any.
    pub ttl_attribute: Option<&'static str>,
    /// Whether the table has a stream (both images) for the event publisher.
    pub stream: bool,
}

const USER_ID: KeyAttr = KeyAttr {
    name: "user_id",
    ty: "N",
};

/// Sessions: one item per session, TTL after retention, and an index by recent activity.
pub const SESSIONS: TableDef = TableDef {
    logical_id: "SessionsTable",
    env_var: "SESSIONS_TABLE",
    partition: USER_ID,
    sort: Some(KeyAttr {
        name: "session_id",
        ty: "S",
    }),
    indexes: &[IndexDef {
        keys_only: false,
        name: BY_ACTIVITY_INDEX,
        partition: USER_ID,
        sort: Some(KeyAttr {
            name: "last_activity",
            ty: "N",
        }),
    }],
    // Keys only: a session's index entry is written when it starts and when it ends, never by
    // the updates in between (refreshes, activity), which would each cost a write; a query
    // reads the items themselves from the table (`Select::AllAttributes`).
    local_indexes: &[IndexDef {
        keys_only: true,
        name: LIVE_INDEX,
        partition: USER_ID,
        sort: Some(KeyAttr {
            name: LIVE_UNTIL,
            ty: "N",
        }),
    }],
    ttl_attribute: Some("ttl"),
    stream: true,
};

/// Users: one item per user.
pub const USERS: TableDef = TableDef {
    logical_id: "UsersTable",
    env_var: "USERS_TABLE",
    partition: USER_ID,
    sort: None,
    indexes: &[],
    local_indexes: &[],
    ttl_attribute: None,
    stream: true,
};

/// Normalised email → user id, written with the user in one transaction. Also holds the
/// per-email sign-in throttle items (key `throttle <email>`), which expire by TTL.
pub const USER_EMAILS: TableDef = TableDef {
    logical_id: "UserEmailsTable",
    env_var: "USER_EMAILS_TABLE",
    partition: KeyAttr {
        name: "email",
        ty: "S",
    },
    sort: None,
    indexes: &[],
    local_indexes: &[],
    ttl_attribute: Some("ttl"),
    stream: true,
};

/// Each user's activity history: the domain events about them, newest first by `at_id` (the
/// event's time, then its id), expiring by TTL. Written only by the event publisher.
pub const ACTIVITY: TableDef = TableDef {
    logical_id: "ActivityTable",
    env_var: "ACTIVITY_TABLE",
    partition: USER_ID,
    sort: Some(KeyAttr {
        name: "at_id",
        ty: "S",
    }),
    indexes: &[],
    local_indexes: &[],
    ttl_attribute: Some("ttl"),
    stream: false,
};

/// Every table of the service.
pub const ALL: [TableDef; 4] = [SESSIONS, USERS, USER_EMAILS, ACTIVITY];
