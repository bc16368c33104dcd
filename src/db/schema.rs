//! One schema for both backends. Kept by hand: `diesel print-schema` would describe only
//! the backend it ran against, and the two migration folders are kept step for step.

diesel::table! {
    users (id) {
        id -> BigInt,
        login -> Text,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        state -> Text,
        time_zone -> Text,
        locale -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        oidc_subject -> Nullable<Text>,
        scim_external_id -> Nullable<Text>,
    }
}

diesel::table! {
    user_roles (user_id, role, source) {
        user_id -> BigInt,
        role -> Text,
        source -> Text,
    }
}

diesel::table! {
    account_roles (id) {
        id -> BigInt,
        name -> Text,
        permissions -> BigInt,
        built_in -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_account_roles (user_id, account_role_id, source) {
        user_id -> BigInt,
        account_role_id -> BigInt,
        source -> Text,
    }
}

diesel::table! {
    user_sessions (id_digest) {
        id_digest -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    account_settings (id) {
        id -> BigInt,
        limit_personal_creation -> Bool,
        block_students -> Bool,
        student_max_days -> Integer,
        default_lifetime_days -> Integer,
        updated_at -> Timestamp,
        student_cap_applied_at -> Nullable<Timestamp>,
        /// The check of the session key the server last started with (migration 000015).
        session_key_check -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        subject_user_id -> Nullable<BigInt>,
        token_id -> Nullable<BigInt>,
        action -> Text,
        details -> Text,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    access_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        real_user_id -> Nullable<BigInt>,
        purpose -> Text,
        scopes -> Text,
        digest -> Text,
        hint -> Text,
        workflow_state -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        /// The owner's roles as bits (`domain::OwnerRoles`), kept by the database's triggers.
        owner_roles -> Integer,
        /// Expired by the last sweep of the tallies: out of the activity indexes. Kept by the
        /// sweep and the database's triggers (migration 2026-12-04-000011); never true of a
        /// live token.
        lapsed -> Bool,
    }
}

diesel::table! {
    /// Tokens per expiry day (`9999-12-31`: never), owner's roles and pending; kept by
    /// triggers (migrations 2026-12-03-000010 and, on PostgreSQL, 2026-12-06-000020).
    token_tallies (expires_on, owner_roles, pending) {
        expires_on -> Date,
        owner_roles -> Integer,
        pending -> Bool,
        n -> BigInt,
    }
}

diesel::table! {
    /// Tokens unexpired at the last sweep, per day of their last use (or creation).
    token_activity_tallies (active_on) {
        active_on -> Date,
        n -> BigInt,
    }
}

diesel::table! {
    tally_sweep (id) {
        id -> Integer,
        swept_to -> Timestamp,
    }
}

diesel::table! {
    /// Tokens created and revoked per week (Monday).
    token_weekly_activity (week_of) {
        week_of -> Date,
        created -> BigInt,
        revoked -> BigInt,
    }
}

diesel::table! {
    secret_stashes (id) {
        id -> BigInt,
        session_digest -> Text,
        page -> Text,
        sealed -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    services (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Text,
        accept_unscoped -> Bool,
        credential_digest -> Text,
        credential_hint -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    service_scopes (service_id, position) {
        service_id -> BigInt,
        position -> Integer,
        scope -> Text,
        label -> Text,
        holders -> Text,
    }
}

diesel::table! {
    service_rules (service_id, position) {
        service_id -> BigInt,
        position -> Integer,
        method -> Text,
        path -> Text,
        scope -> Text,
    }
}

diesel::table! {
    token_usage (token_id, service_id, day) {
        token_id -> BigInt,
        service_id -> BigInt,
        day -> Date,
        uses -> BigInt,
    }
}

diesel::table! {
    password_setups (digest) {
        digest -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        replaced_at -> Nullable<Timestamp>,
        permissions -> Nullable<BigInt>,
    }
}

diesel::table! {
    user_imports (id) {
        id -> Text,
        user_id -> BigInt,
        file_name -> Text,
        content -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oidc_logins (state_digest) {
        state_digest -> Text,
        sealed -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    provisioning_credentials (id) {
        id -> BigInt,
        purpose -> Text,
        digest -> Text,
        hint -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    scim_groups (id) {
        id -> Text,
        display_name -> Text,
        external_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    scim_group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> BigInt,
    }
}

diesel::table! {
    scim_users (user_id) {
        user_id -> BigInt,
        formatted -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(scim_users -> users (user_id));

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        url -> Text,
        description -> Text,
        events -> Text,
        enabled -> Bool,
        secret_sealed -> Text,
        secret_hint -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        message_id -> Text,
        channel -> Text,
        event -> Text,
        endpoint_id -> Nullable<BigInt>,
        user_id -> Nullable<BigInt>,
        recipient -> Text,
        token_id -> Nullable<BigInt>,
        payload -> Text,
        dedupe_key -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        resends -> Integer,
        next_attempt_at -> Timestamp,
        give_up_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        last_status -> Nullable<Integer>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    token_reminders (token_id, threshold, expires_at) {
        token_id -> BigInt,
        threshold -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_preferences (user_id) {
        user_id -> BigInt,
        expiry_reminders -> Bool,
        weekly_digest -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(scim_group_members -> scim_groups (group_id));
diesel::joinable!(scim_group_members -> users (user_id));
diesel::joinable!(password_setups -> users (user_id));
diesel::joinable!(user_imports -> users (user_id));
diesel::joinable!(service_scopes -> services (service_id));
diesel::joinable!(service_rules -> services (service_id));
diesel::joinable!(access_tokens -> users (user_id));
diesel::joinable!(notifications -> webhook_endpoints (endpoint_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(token_reminders -> access_tokens (token_id));
diesel::joinable!(notification_preferences -> users (user_id));

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_account_roles -> users (user_id));
diesel::joinable!(user_account_roles -> account_roles (account_role_id));
diesel::joinable!(user_sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    access_tokens,
    users,
    user_roles,
    account_roles,
    user_account_roles,
    user_sessions,
    account_settings,
    audit_events,
    secret_stashes,
    services,
    service_scopes,
    service_rules,
    token_usage,
    password_setups,
    oidc_logins,
    provisioning_credentials,
    scim_groups,
    scim_group_members,
    token_tallies,
    token_activity_tallies,
    tally_sweep,
    token_weekly_activity,
    user_imports,
    scim_users,
    webhook_endpoints,
    notifications,
    token_reminders,
    notification_preferences,
);
