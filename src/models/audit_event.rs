use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_events;
use crate::db::{AtMostDsl, DbConnection, Likely, on_backend};
use crate::models::Cursor;

/// What happened, as stored in `audit_events.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Login,
    LoginFailed,
    Logout,
    LogoutEverywhere,
    SetupCompleted,
    UserCreated,
    UserSuspended,
    UserReactivated,
    PasswordChanged,
    SessionsEnded,
    TokenCreated,
    TokenUpdated,
    TokenRegenerated,
    TokenDeleted,
    TokenActivated,
    SettingsChanged,
    RolesChanged,
    TokensCapped,
    TokensRevokedAll,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    ServiceCreated,
    ServiceUpdated,
    ServiceCredentialRotated,
    ServiceDeleted,
    TokenLeaked,
    UserLinked,
    UserUpdated,
    PasswordLinkIssued,
    PasswordSet,
    UsersImported,
    ProvisioningCredentialCreated,
    ProvisioningCredentialRevoked,
    UserDeprovisioned,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    WebhookCreated,
    WebhookUpdated,
    WebhookSecretRotated,
    WebhookDeleted,
    WebhookTested,
    NotificationResent,
    NotificationPreferencesChanged,
}

impl AuditAction {
    pub const fn key(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login.failed",
            AuditAction::Logout => "logout",
            AuditAction::LogoutEverywhere => "logout.everywhere",
            AuditAction::SetupCompleted => "setup.completed",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserSuspended => "user.suspended",
            AuditAction::UserReactivated => "user.reactivated",
            AuditAction::PasswordChanged => "user.password_changed",
            AuditAction::SessionsEnded => "user.sessions_ended",
            AuditAction::TokenCreated => "token.created",
            AuditAction::TokenUpdated => "token.updated",
            AuditAction::TokenRegenerated => "token.regenerated",
            AuditAction::TokenDeleted => "token.deleted",
            AuditAction::TokenActivated => "token.activated",
            AuditAction::SettingsChanged => "settings.changed",
            AuditAction::RolesChanged => "user.roles_changed",
            AuditAction::TokensCapped => "tokens.capped",
            AuditAction::TokensRevokedAll => "tokens.revoked_all",
            AuditAction::RoleCreated => "role.created",
            AuditAction::RoleUpdated => "role.updated",
            AuditAction::RoleDeleted => "role.deleted",
            AuditAction::ServiceCreated => "service.created",
            AuditAction::ServiceUpdated => "service.updated",
            AuditAction::ServiceCredentialRotated => "service.credential_rotated",
            AuditAction::ServiceDeleted => "service.deleted",
            AuditAction::TokenLeaked => "token.leaked",
            AuditAction::UserLinked => "user.linked",
            AuditAction::UserUpdated => "user.updated",
            AuditAction::PasswordLinkIssued => "user.password_link_issued",
            AuditAction::PasswordSet => "user.password_set",
            AuditAction::UsersImported => "users.imported",
            AuditAction::ProvisioningCredentialCreated => "provisioning.credential_created",
            AuditAction::ProvisioningCredentialRevoked => "provisioning.credential_revoked",
            AuditAction::UserDeprovisioned => "user.deprovisioned",
            AuditAction::GroupCreated => "group.created",
            AuditAction::GroupUpdated => "group.updated",
            AuditAction::GroupDeleted => "group.deleted",
            AuditAction::WebhookCreated => "webhook.created",
            AuditAction::WebhookUpdated => "webhook.updated",
            AuditAction::WebhookSecretRotated => "webhook.secret_rotated",
            AuditAction::WebhookDeleted => "webhook.deleted",
            AuditAction::WebhookTested => "webhook.tested",
            AuditAction::NotificationResent => "notification.resent",
            AuditAction::NotificationPreferencesChanged => "user.notification_preferences_changed",
        }
    }
}

impl AuditAction {
    /// In words, for the audit log's filter (the key beside it).
    pub const fn label(self) -> &'static str {
        match self {
            AuditAction::Login => "Signed in",
            AuditAction::LoginFailed => "Sign-in refused",
            AuditAction::Logout => "Signed out",
            AuditAction::LogoutEverywhere => "Signed out everywhere",
            AuditAction::SetupCompleted => "First administrator set up",
            AuditAction::UserCreated => "User created",
            AuditAction::UserSuspended => "User suspended",
            AuditAction::UserReactivated => "User reactivated",
            AuditAction::PasswordChanged => "Password changed",
            AuditAction::SessionsEnded => "Sessions ended",
            AuditAction::TokenCreated => "Token created",
            AuditAction::TokenUpdated => "Token edited",
            AuditAction::TokenRegenerated => "Token regenerated",
            AuditAction::TokenDeleted => "Token revoked",
            AuditAction::TokenActivated => "Token activated",
            AuditAction::SettingsChanged => "Account settings changed",
            AuditAction::RolesChanged => "Roles changed",
            AuditAction::TokensCapped => "Tokens shortened to the student maximum",
            AuditAction::TokensRevokedAll => "All tokens of a user revoked",
            AuditAction::RoleCreated => "Role created",
            AuditAction::RoleUpdated => "Role changed",
            AuditAction::RoleDeleted => "Role deleted",
            AuditAction::ServiceCreated => "Service registered",
            AuditAction::ServiceUpdated => "Service changed",
            AuditAction::ServiceCredentialRotated => "Service credential rotated",
            AuditAction::ServiceDeleted => "Service removed",
            AuditAction::TokenLeaked => "Token revoked as leaked",
            AuditAction::UserLinked => "Account linked to single sign-on",
            AuditAction::UserUpdated => "User details changed",
            AuditAction::PasswordLinkIssued => "Password link issued",
            AuditAction::PasswordSet => "Password set with a link",
            AuditAction::UsersImported => "Users imported",
            AuditAction::ProvisioningCredentialCreated => "Provisioning credential created",
            AuditAction::ProvisioningCredentialRevoked => "Provisioning credential revoked",
            AuditAction::UserDeprovisioned => "User deprovisioned by the directory",
            AuditAction::GroupCreated => "Directory group created",
            AuditAction::GroupUpdated => "Directory group changed",
            AuditAction::GroupDeleted => "Directory group deleted",
            AuditAction::WebhookCreated => "Webhook endpoint added",
            AuditAction::WebhookUpdated => "Webhook endpoint changed",
            AuditAction::WebhookSecretRotated => "Webhook secret rotated",
            AuditAction::WebhookDeleted => "Webhook endpoint removed",
            AuditAction::WebhookTested => "Webhook test sent",
            AuditAction::NotificationResent => "Notification resent",
            AuditAction::NotificationPreferencesChanged => "Email preferences changed",
        }
    }

    /// The part of the account it concerns, to group the filter's choices.
    pub fn area(self) -> &'static str {
        match self.key().split('.').next().unwrap_or_default() {
            "token" | "tokens" => "Tokens",
            "login" | "logout" | "setup" | "user" | "users" => "People and sign-in",
            "role" | "settings" => "Roles and settings",
            "service" | "provisioning" | "group" => "Services and directory",
            _ => "Notifications",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub subject_user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub action: String,
    pub details: String,
    pub ip: Option<String>,
}

/// An event to record. `details` says what changed, in words; never a secret.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub occurred_at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub subject_user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub action: String,
    pub details: String,
    pub ip: Option<String>,
}

impl NewAuditEvent {
    pub fn new(action: AuditAction) -> Self {
        NewAuditEvent {
            occurred_at: crate::domain::now(),
            actor_id: None,
            subject_user_id: None,
            token_id: None,
            action: action.key().to_owned(),
            details: String::new(),
            ip: None,
        }
    }

    pub fn actor(mut self, id: i64) -> Self {
        self.actor_id = Some(id);
        self
    }

    pub fn subject(mut self, id: i64) -> Self {
        self.subject_user_id = Some(id);
        self
    }

    pub fn token(mut self, id: i64) -> Self {
        self.token_id = Some(id);
        self
    }

    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    pub fn record(self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(audit_events::table).values(&self).execute(conn).map(|_| ())
    }
}

impl AuditAction {
    /// The audit log's filter for every way a token is revoked — deleted one by one, all
    /// of a user's at once (by an administrator, or when the identity provider
    /// deprovisions them), reported as leaked — under one name: the dashboard's weekly
    /// "revoked" bars count them all, and open it.
    pub const REVOCATIONS: (&'static str, [AuditAction; 3]) = (
        "token.revocations",
        [AuditAction::TokenDeleted, AuditAction::TokensRevokedAll, AuditAction::TokenLeaked],
    );

    /// Every action, for the audit log's filter.
    pub const ALL: [AuditAction; 45] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::LogoutEverywhere,
        AuditAction::SetupCompleted,
        AuditAction::UserCreated,
        AuditAction::UserSuspended,
        AuditAction::UserReactivated,
        AuditAction::PasswordChanged,
        AuditAction::SessionsEnded,
        AuditAction::TokenCreated,
        AuditAction::TokenUpdated,
        AuditAction::TokenRegenerated,
        AuditAction::TokenDeleted,
        AuditAction::TokenActivated,
        AuditAction::SettingsChanged,
        AuditAction::RolesChanged,
        AuditAction::TokensCapped,
        AuditAction::TokensRevokedAll,
        AuditAction::RoleCreated,
        AuditAction::RoleUpdated,
        AuditAction::RoleDeleted,
        AuditAction::ServiceCreated,
        AuditAction::ServiceUpdated,
        AuditAction::ServiceCredentialRotated,
        AuditAction::ServiceDeleted,
        AuditAction::TokenLeaked,
        AuditAction::UserLinked,
        AuditAction::UserUpdated,
        AuditAction::PasswordLinkIssued,
        AuditAction::PasswordSet,
        AuditAction::UsersImported,
        AuditAction::ProvisioningCredentialCreated,
        AuditAction::ProvisioningCredentialRevoked,
        AuditAction::UserDeprovisioned,
        AuditAction::GroupCreated,
        AuditAction::GroupUpdated,
        AuditAction::GroupDeleted,
        AuditAction::WebhookCreated,
        AuditAction::WebhookUpdated,
        AuditAction::WebhookSecretRotated,
        AuditAction::WebhookDeleted,
        AuditAction::WebhookTested,
        AuditAction::NotificationResent,
        AuditAction::NotificationPreferencesChanged,
    ];
}

/// What the account-wide audit log is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor_id: Option<i64>,
    pub subject_id: Option<i64>,
    /// Any of these actions; empty for any action at all.
    pub actions: Vec<&'static str>,
    /// Events at or after the first and before the second, either end open; with either,
    /// the page is in time order.
    pub between: (Option<NaiveDateTime>, Option<NaiveDateTime>),
    /// Where the page starts: after this event, in the page's order.
    pub before: Option<Cursor>,
}

impl AuditQuery {
    /// Whether the page is in time order, on `(occurred_at, id)`, rather than by id alone:
    /// between two dates, and for some kinds of event by or about one user, whose index is
    /// in time order so that the same walk serves a period too. Ids are given in time order,
    /// so both orders read the same; the keyset is the index's own.
    pub fn in_time_order(&self) -> bool {
        self.between != (None, None)
            || (!self.actions.is_empty() && self.actor_id.is_some() != self.subject_id.is_some())
    }
}

impl AuditEvent {
    /// A page of the audit log, newest first, and where the next one starts. Keyset on id;
    /// in time order ([`AuditQuery::in_time_order`]), on `(occurred_at, id)`, which walks
    /// the time indexes from the period's end. Several actions are one walk of their index
    /// each, merged: an `IN` list would read and sort every matching event before it had
    /// the first page.
    pub fn page(
        conn: &mut DbConnection,
        query: &AuditQuery,
        per_page: u32,
    ) -> QueryResult<(Vec<AuditEvent>, Option<Cursor>)> {
        let actions: Vec<Option<&str>> = if query.actions.is_empty() {
            vec![None]
        } else {
            query.actions.iter().copied().map(Some).collect()
        };
        let in_time = query.in_time_order();
        let mut rows: Vec<AuditEvent> = Vec::new();
        for action in actions {
            let mut q = audit_events::table.into_boxed();
            if let Some(id) = query.actor_id {
                q = q.filter(audit_events::actor_id.eq(id));
            }
            if let Some(id) = query.subject_id {
                q = q.filter(audit_events::subject_user_id.eq(id));
            }
            if let Some(action) = action {
                q = q.filter(audit_events::action.eq(action));
            }
            let (from, until) = query.between;
            // Each bound of the period is `Likely`: else SQLite takes the user's time index
            // for one user's events of one kind between two dates, not the kind's.
            if let Some(from) = from {
                q = q.filter(Likely(audit_events::occurred_at.ge(from)));
            }
            // A later page's `at <= t AND (at < t OR id < i)` is the range's end in place of
            // the period's: given both, SQLite would start at the period's end. A cursor at
            // or past the period's end (a narrowed `to`, a hand-made link) is no end at all:
            // the period's own applies.
            q = match query.before {
                Some(Cursor { at: Some(t), id }) if in_time && until.is_none_or(|u| t < u) => q
                    .filter(Likely(audit_events::occurred_at.le(t)))
                    .filter(audit_events::occurred_at.lt(t).or(audit_events::id.lt(id))),
                before => {
                    if let Some(until) = until {
                        q = q.filter(Likely(audit_events::occurred_at.lt(until)));
                    }
                    match before {
                        // An id alone on a page in time order: a link from before the page
                        // was (ids are given in time order, so it starts about where it did).
                        Some(Cursor { at: None, id }) => q.filter(audit_events::id.lt(id)),
                        Some(Cursor { at: Some(_), id }) if !in_time => q.filter(audit_events::id.lt(id)),
                        _ => q,
                    }
                }
            };
            q = if in_time {
                q.order((audit_events::occurred_at.desc(), audit_events::id.desc()))
            } else {
                q.order(audit_events::id.desc())
            };
            rows.extend(q.select(AuditEvent::as_select()).at_most(per_page + 1).load(conn)?);
        }
        rows.sort_unstable_by_key(|e| std::cmp::Reverse((in_time.then_some(e.occurred_at), e.id)));
        let next = if rows.len() > per_page as usize {
            rows.truncate(per_page as usize);
            rows.last().map(|e| Cursor { at: in_time.then_some(e.occurred_at), id: e.id })
        } else {
            None
        };
        Ok((rows, next))
    }

    /// Of a user's `N` latest events of one kind, those since `since`, newest first (e.g.
    /// their tokens revoked as leaked, for their own page, which reads them on every view).
    ///
    /// At most `N` entries of the (subject, action, time) index are read. Asked for the
    /// period too, SQLite walked the user's events of the whole period by the (subject,
    /// time) index and kept that kind: thousands for a user whose tokens a script churns
    /// through. The latest `N` hold every one of the period's latest `N`.
    pub fn recent_of_kind<const N: u32>(
        conn: &mut DbConnection,
        user_id: i64,
        action: AuditAction,
        since: NaiveDateTime,
    ) -> QueryResult<Vec<AuditEvent>> {
        let mut latest = on_backend!(conn, |c| audit_events::table
            .filter(audit_events::subject_user_id.eq(user_id))
            .filter(audit_events::action.eq(action.key()))
            .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
            .select(AuditEvent::as_select())
            .at_most_of::<N>()
            .load(c))?;
        latest.retain(|e| e.occurred_at >= since);
        Ok(latest)
    }

    /// The most recent events about a user (as subject or actor), newest first.
    ///
    /// One walk of each index, merged: "subject or actor" in one statement reads every
    /// event of either kind and sorts them — 33 ms on PostgreSQL for the profile of an
    /// administrator who acted 100,000 times.
    pub fn recent_for_user(
        conn: &mut DbConnection,
        user_id: i64,
        limit: u32,
    ) -> QueryResult<Vec<AuditEvent>> {
        let mut events = on_backend!(conn, |c| audit_events::table
            .filter(audit_events::subject_user_id.eq(user_id))
            .order(audit_events::id.desc())
            .select(AuditEvent::as_select())
            .at_most(limit)
            .load(c))?;
        let acted = on_backend!(conn, |c| audit_events::table
            .filter(audit_events::actor_id.eq(user_id))
            .order(audit_events::id.desc())
            .select(AuditEvent::as_select())
            .at_most(limit)
            .load(c))?;
        events.extend(acted);
        events.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
        // What they did to themselves is in both walks.
        events.dedup_by_key(|e| e.id);
        events.truncate(limit as usize);
        Ok(events)
    }
}
