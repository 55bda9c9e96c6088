//! The diesel schema, shared by both backends (see `migrations/`).

diesel::table! {
    users (id) {
        id -> Text,
        display_name -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    accounts (provider, account_id) {
        provider -> Text,
        account_id -> Text,
        user_id -> Text,
        scopes -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    oauth_tokens (user_id, provider) {
        user_id -> Text,
        provider -> Text,
        key_id -> Text,
        access_nonce -> Binary,
        access_ciphertext -> Binary,
        refresh_nonce -> Nullable<Binary>,
        refresh_ciphertext -> Nullable<Binary>,
        expires_at -> BigInt,
        scopes -> Text,
        updated_at -> BigInt,
        refresh_lease_owner -> Nullable<Text>,
        refresh_lease_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    sign_ins (state_hash) {
        state_hash -> Text,
        key_id -> Text,
        verifier_nonce -> Binary,
        verifier_ciphertext -> Binary,
        next_path -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
        idle_expires_at -> BigInt,
        absolute_expires_at -> BigInt,
        revoked -> Bool,
    }
}

diesel::table! {
    mood_snapshots (id) {
        id -> BigInt,
        user_id -> Text,
        time_range -> Text,
        mood -> Text,
        computed_at -> BigInt,
    }
}

diesel::table! {
    matches (id) {
        id -> Text,
        user_a -> Text,
        user_b -> Text,
        result -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    invites (token_hash) {
        token_hash -> Text,
        inviter -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        accepted_by -> Nullable<Text>,
        match_id -> Nullable<Text>,
        for_provider -> Nullable<Text>,
        for_name -> Nullable<Text>,
    }
}

diesel::table! {
    artworks (id) {
        id -> Text,
        content_key -> Text,
        subject -> Text,
        request -> Text,
        width -> Integer,
        height -> Integer,
        sha256 -> Text,
        bytes -> BigInt,
        generation_ms -> BigInt,
        created_at -> BigInt,
        png -> Binary,
    }
}

diesel::table! {
    artwork_subjects (artwork_id, user_id) {
        artwork_id -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        content_key -> Text,
        spec -> Text,
        owner -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        progress -> Double,
        last_error -> Nullable<Text>,
        artwork_id -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<BigInt>,
        run_after -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(artwork_subjects -> artworks (artwork_id));
diesel::allow_tables_to_appear_in_same_query!(artworks, artwork_subjects);

diesel::table! {
    schedules (id) {
        id -> Text,
        user_id -> Text,
        task -> Text,
        period_secs -> BigInt,
        next_run_at -> BigInt,
        paused -> Nullable<Text>,
        runs -> Integer,
        failures -> Integer,
        last_run_at -> Nullable<BigInt>,
        last_result -> Nullable<Text>,
        last_error -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}
