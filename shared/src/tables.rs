//! The tables' definitions: one source for the local stack, the tests and (checked by a test)
//! `template.yaml`.

/// Name of the sessions index ordered by `last_activity`.
pub const BY_ACTIVITY_INDEX: &str = "by_activity";

/// A key attribute: name and scalar type (`N` or `S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: &'static str,
    /// `N` or `S`.
    pub ty: &'static str,
}

/// A global secondary index (projection ALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
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
    /// TTL attribute, if any.
    pub ttl_attribute: Option<&'static str>,
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
        name: BY_ACTIVITY_INDEX,
        partition: USER_ID,
        sort: Some(KeyAttr {
            name: "last_activity",
            ty: "N",
        }),
    }],
    ttl_attribute: Some("ttl"),
};

/// Users: one item per user.
pub const USERS: TableDef = TableDef {
    logical_id: "UsersTable",
    env_var: "USERS_TABLE",
    partition: USER_ID,
    sort: None,
    indexes: &[],
    ttl_attribute: None,
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
    ttl_attribute: Some("ttl"),
};

/// Every table of the service.
pub const ALL: [TableDef; 3] = [SESSIONS, USERS, USER_EMAILS];
