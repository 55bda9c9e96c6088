//! Row types and their conversions to core types. Times are microseconds
//! since the epoch, ids UUID text, structured values JSON text: portable
//! between SQLite and PostgreSQL and exact in both.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use spotifyart_core::art::{ArtRequest, ArtworkMeta, ContentKey, Subject};
use spotifyart_core::store::{
    Account, Addressee, Invite, Job, JobSpec, JobState, MatchRecord, MoodSnapshot, Schedule,
    ScheduledTask, Session, TokenHash, User,
};
use spotifyart_core::{Error, Result, TimeRange};

use crate::schema::*;

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn time(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::internal(format!("cannot serialise a record: {e}")))
}

pub fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

pub fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| corrupt(what, e))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage {
        message: format!("stored {what} is unreadable (corrupt row?): {e}"),
        source: None,
    }
}

/// `None` (all ranges) is stored as `all`, so equality works in SQL.
pub fn range_key(range: Option<TimeRange>) -> &'static str {
    range.map(TimeRange::as_str).unwrap_or("all")
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct UserRow {
    pub id: String,
    pub display_name: Option<String>,
    pub created_at: i64,
}

impl UserRow {
    pub fn into_user(self) -> Result<User> {
        Ok(User {
            id: parse(&self.id, "user id")?,
            display_name: self.display_name,
            created_at: time(self.created_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AccountRow {
    pub provider: String,
    pub account_id: String,
    pub user_id: String,
    pub scopes: String,
    pub updated_at: i64,
}

impl AccountRow {
    pub fn into_account(self) -> Result<Account> {
        Ok(Account {
            user: parse(&self.user_id, "user id")?,
            provider: self.provider,
            account_id: self.account_id,
            scopes: from_json(&self.scopes, "scopes")?,
            updated_at: time(self.updated_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = oauth_tokens, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct TokenRow {
    pub user_id: String,
    pub provider: String,
    pub key_id: String,
    pub access_nonce: Vec<u8>,
    pub access_ciphertext: Vec<u8>,
    pub refresh_nonce: Option<Vec<u8>>,
    pub refresh_ciphertext: Option<Vec<u8>>,
    pub expires_at: i64,
    pub scopes: String,
    pub updated_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_ins, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SignInRow {
    pub state_hash: String,
    pub key_id: String,
    pub verifier_nonce: Vec<u8>,
    pub verifier_ciphertext: Vec<u8>,
    pub next_path: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub revoked: bool,
}

impl SessionRow {
    pub fn into_session(self) -> Result<Session> {
        Ok(Session {
            hash: TokenHash(self.token_hash),
            user: parse(&self.user_id, "user id")?,
            created_at: time(self.created_at),
            idle_expires_at: time(self.idle_expires_at),
            absolute_expires_at: time(self.absolute_expires_at),
        })
    }

    pub fn is_live(&self, now: i64) -> bool {
        !self.revoked && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

#[derive(Insertable)]
#[diesel(table_name = mood_snapshots)]
pub struct NewMoodRow {
    pub user_id: String,
    pub time_range: String,
    pub mood: String,
    pub computed_at: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mood_snapshots, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct MoodRow {
    pub user_id: String,
    pub time_range: String,
    pub mood: String,
    pub computed_at: i64,
}

impl MoodRow {
    pub fn into_snapshot(self) -> Result<MoodSnapshot> {
        Ok(MoodSnapshot {
            user: parse(&self.user_id, "user id")?,
            time_range: match self.time_range.as_str() {
                "all" => None,
                r => Some(parse(r, "time range")?),
            },
            mood: from_json(&self.mood, "mood")?,
            computed_at: time(self.computed_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = matches, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct MatchRow {
    pub id: String,
    pub user_a: String,
    pub user_b: String,
    pub result: String,
    pub created_at: i64,
}

impl MatchRow {
    pub fn from_record(m: &MatchRecord) -> Result<Self> {
        Ok(Self {
            id: m.id.to_string(),
            user_a: m.users[0].to_string(),
            user_b: m.users[1].to_string(),
            result: to_json(&m.result)?,
            created_at: micros(m.created_at),
        })
    }

    pub fn into_record(self) -> Result<MatchRecord> {
        Ok(MatchRecord {
            id: parse(&self.id, "match id")?,
            users: [
                parse(&self.user_a, "user id")?,
                parse(&self.user_b, "user id")?,
            ],
            result: from_json(&self.result, "match")?,
            created_at: time(self.created_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = invites, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct InviteRow {
    pub token_hash: String,
    pub inviter: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_by: Option<String>,
    pub match_id: Option<String>,
    pub for_provider: Option<String>,
    pub for_name: Option<String>,
}

impl InviteRow {
    pub fn from_invite(i: &Invite) -> Self {
        Self {
            token_hash: i.hash.0.clone(),
            inviter: i.inviter.to_string(),
            created_at: micros(i.created_at),
            expires_at: micros(i.expires_at),
            accepted_by: i.accepted_by.map(|u| u.to_string()),
            match_id: i.match_id.map(|m| m.to_string()),
            for_provider: i.addressee.as_ref().map(|a| a.provider.clone()),
            for_name: i.addressee.as_ref().map(|a| a.name.clone()),
        }
    }

    pub fn into_invite(self) -> Result<Invite> {
        Ok(Invite {
            hash: TokenHash(self.token_hash),
            inviter: parse(&self.inviter, "user id")?,
            created_at: time(self.created_at),
            expires_at: time(self.expires_at),
            accepted_by: self.accepted_by.map(|u| parse(&u, "user id")).transpose()?,
            match_id: self.match_id.map(|m| parse(&m, "match id")).transpose()?,
            addressee: match (self.for_provider, self.for_name) {
                (Some(provider), Some(name)) => Some(Addressee { provider, name }),
                _ => None,
            },
        })
    }
}

/// An artwork without its pixels.
#[derive(Queryable, Selectable)]
#[diesel(table_name = artworks, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ArtworkMetaRow {
    pub id: String,
    pub content_key: String,
    pub subject: String,
    pub request: String,
    pub width: i32,
    pub height: i32,
    pub sha256: String,
    pub bytes: i64,
    pub generation_ms: i64,
    pub created_at: i64,
}

impl ArtworkMetaRow {
    pub fn into_meta(self) -> Result<ArtworkMeta> {
        Ok(ArtworkMeta {
            id: parse(&self.id, "artwork id")?,
            content_key: ContentKey(self.content_key),
            subject: from_json::<Subject>(&self.subject, "artwork subject")?,
            request: from_json::<ArtRequest>(&self.request, "artwork request")?,
            width: self.width as u32,
            height: self.height as u32,
            sha256: self.sha256,
            bytes: self.bytes as u64,
            generation_ms: self.generation_ms as u64,
            created_at: time(self.created_at),
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = artworks)]
pub struct ArtworkRow<'a> {
    pub id: String,
    pub content_key: &'a str,
    pub subject: String,
    pub request: String,
    pub width: i32,
    pub height: i32,
    pub sha256: &'a str,
    pub bytes: i64,
    pub generation_ms: i64,
    pub created_at: i64,
    pub png: &'a [u8],
}

#[derive(Insertable)]
#[diesel(table_name = artwork_subjects)]
pub struct ArtworkSubjectRow {
    pub artwork_id: String,
    pub user_id: String,
    pub created_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct JobRow {
    pub id: String,
    pub content_key: String,
    pub spec: String,
    pub owner: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub progress: f64,
    pub last_error: Option<String>,
    pub artwork_id: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub run_after: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn state_of(s: &str) -> Result<JobState> {
    Ok(match s {
        "queued" => JobState::Queued,
        "running" => JobState::Running,
        "succeeded" => JobState::Succeeded,
        "failed" => JobState::Failed,
        other => return Err(corrupt("job state", other)),
    })
}

impl JobRow {
    pub fn into_job(self) -> Result<Job> {
        Ok(Job {
            id: parse(&self.id, "job id")?,
            content_key: ContentKey(self.content_key),
            spec: from_json::<JobSpec>(&self.spec, "job spec")?,
            owner: self.owner.map(|o| parse(&o, "user id")).transpose()?,
            state: state_of(&self.state)?,
            attempts: self.attempts as u32,
            max_attempts: self.max_attempts as u32,
            progress: self.progress as f32,
            last_error: self.last_error,
            artwork_id: self
                .artwork_id
                .map(|a| parse(&a, "artwork id"))
                .transpose()?,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at.map(time),
            run_after: time(self.run_after),
            created_at: time(self.created_at),
            updated_at: time(self.updated_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = schedules, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct ScheduleRow {
    pub id: String,
    pub user_id: String,
    pub task: String,
    pub period_secs: i64,
    pub next_run_at: i64,
    pub paused: Option<String>,
    pub runs: i32,
    pub failures: i32,
    pub last_run_at: Option<i64>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub created_at: i64,
}

impl ScheduleRow {
    pub fn from_schedule(s: &Schedule) -> Result<Self> {
        Ok(Self {
            id: s.id.to_string(),
            user_id: s.user.to_string(),
            task: to_json(&s.task)?,
            period_secs: i64::try_from(s.period.as_secs()).unwrap_or(i64::MAX),
            next_run_at: micros(s.next_run_at),
            paused: s.paused.clone(),
            runs: i32::try_from(s.runs).unwrap_or(i32::MAX),
            failures: i32::try_from(s.failures).unwrap_or(i32::MAX),
            last_run_at: s.last_run_at.map(micros),
            last_result: s.last_result.clone(),
            last_error: s.last_error.clone(),
            lease_owner: s.lease_owner.clone(),
            lease_expires_at: s.lease_expires_at.map(micros),
            created_at: micros(s.created_at),
        })
    }

    pub fn into_schedule(self) -> Result<Schedule> {
        Ok(Schedule {
            id: parse(&self.id, "schedule id")?,
            user: parse(&self.user_id, "user id")?,
            task: from_json::<ScheduledTask>(&self.task, "schedule task")?,
            period: std::time::Duration::from_secs(self.period_secs.max(0) as u64),
            next_run_at: time(self.next_run_at),
            paused: self.paused,
            runs: self.runs.max(0) as u32,
            failures: self.failures.max(0) as u32,
            last_run_at: self.last_run_at.map(time),
            last_result: self.last_result,
            last_error: self.last_error,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at.map(time),
            created_at: time(self.created_at),
        })
    }
}
