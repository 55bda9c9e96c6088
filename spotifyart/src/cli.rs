//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use spotifyart_core::mood::{DEFAULT_MOOD_MODEL, MOOD_MODELS, MoodModelEntry};
use spotifyart_core::{Style, TimeRange};

/// Two people's Spotify listening, turned into one piece of art.
///
/// INPUT is a Spotify data export (a folder, a .zip or a .json history
/// file, as Spotify's "Download your data" delivers it), a PROFILE.json
/// written by `spotifyart profile`, `spotify:me` / `spotify:ACCOUNT` for
/// a user signed in with `spotifyart login` (read from the Web API), or
/// `listenbrainz:USER` / `lastfm:USER` for anyone's public listening there
/// (Last.fm needs LASTFM_API_KEY; both read LISTENBRAINZ_API_URL /
/// LASTFM_API_URL, and a ListenBrainz token from LISTENBRAINZ_TOKEN).
#[derive(Debug, Parser)]
#[command(name = "spotifyart", version, about, long_about)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Where artworks, users and jobs are stored: sqlite://PATH or
    /// postgres://... [default: sqlite://spotifyart.db]
    #[arg(
        long,
        global = true,
        env = "SPOTIFYART_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Folder with the embedding mood model (all-MiniLM-L6-v2:
    /// config.json, model.safetensors, tokenizer.json) [default: the
    /// Hugging Face cache; `--mood-model embedding` downloads it there]
    #[arg(long, global = true, env = "SPOTIFYART_EMBEDDING_MODEL_DIR")]
    pub embedding_model_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the listening profile of an export as JSON (docs/profile.md).
    Profile {
        /// Export folder, .zip or .json file, spotify:me, listenbrainz:USER
        /// or lastfm:USER.
        input: PathBuf,
    },
    /// Print the mood of an export or profile as JSON.
    Mood {
        /// Export, PROFILE.json or any other INPUT (see above).
        input: PathBuf,
        /// Mood model.
        #[arg(long, value_parser = mood_models(), default_value = DEFAULT_MOOD_MODEL)]
        mood_model: MoodModelEntry,
        /// Only this time range (default: all ranges blended).
        #[arg(long, value_parser = time_ranges())]
        time_range: Option<TimeRange>,
    },
    /// Print the match of two people as JSON: score, reasons, blended mood.
    Match {
        /// First person's export or PROFILE.json.
        a: PathBuf,
        /// Second person's export or PROFILE.json.
        b: PathBuf,
        /// Mood model.
        #[arg(long, value_parser = mood_models(), default_value = DEFAULT_MOOD_MODEL)]
        mood_model: MoodModelEntry,
    },
    /// Paint one person's mood, or two people's match, to a PNG.
    ///
    /// The same inputs and settings are painted once: a second run reuses
    /// the stored artwork and says so.
    Art {
        /// First person's export or PROFILE.json.
        a: PathBuf,
        /// Second person's export or PROFILE.json (paints the match).
        b: Option<PathBuf>,
        /// Where to write the PNG.
        #[arg(long, short)]
        out: PathBuf,
        /// Image model: sd-turbo (default), sd-1.5, sd-2.1, sdxl,
        /// sdxl-turbo; `tiny` is a random test network (paints noise) and
        /// `palette` a procedural painter (not Stable Diffusion) that needs
        /// no weights.
        #[arg(long, env = "SPOTIFYART_MODEL")]
        model: Option<String>,
        #[command(flatten)]
        diffusion: DiffusionArgs,
        /// Denoising steps (layers for the palette painter).
        #[arg(long)]
        steps: Option<u32>,
        /// Random seed (default: derived from the moods, so the same people
        /// get the same picture).
        #[arg(long)]
        seed: Option<u64>,
        /// Guidance scale (0 disables classifier-free guidance).
        #[arg(long)]
        guidance: Option<f32>,
        /// Width in pixels.
        #[arg(long)]
        width: Option<u32>,
        /// Height in pixels.
        #[arg(long)]
        height: Option<u32>,
        /// Style preset.
        #[arg(long, value_parser = styles())]
        style: Option<Style>,
        /// Mood model.
        #[arg(long, value_parser = mood_models(), default_value = DEFAULT_MOOD_MODEL)]
        mood_model: MoodModelEntry,
    },
    /// Sign in with Spotify (authorization code + PKCE) and keep the tokens,
    /// encrypted, in the database. Needs SPOTIFY_CLIENT_ID; the app must
    /// list SPOTIFY_REDIRECT_URI (default http://127.0.0.1:8888/callback).
    Login {
        /// Also ask for the playlist scopes the `archive` command needs.
        #[arg(long)]
        archive: bool,
        /// Also ask for the scopes `cover --upload` needs (image upload and
        /// changing your playlists).
        #[arg(long)]
        covers: bool,
        /// Do not listen for the browser: paste the address it was sent to
        /// (for a machine the browser cannot reach).
        #[arg(long)]
        paste: bool,
    },
    /// Copy tracks of one playlist that are not yet in an archive playlist
    /// into it, for every signed-in user. Safe to rerun: nothing is added
    /// twice, and an interrupted run is finished by the next.
    Archive {
        /// Playlist to copy from: id, spotify:playlist: URI or link.
        #[arg(long)]
        from: String,
        /// Archive playlist: id, URI or link, or a name (each user's
        /// playlist of that name, created private when missing).
        #[arg(long)]
        to: String,
    },
    /// Paint a cover for one of your playlists from its music's mood: a
    /// square JPEG that fits Spotify's 256 KB limit. With --upload it
    /// becomes the playlist's cover (after `spotifyart login --covers`).
    Cover {
        /// The playlist: id, spotify:playlist: URI or open.spotify.com link.
        playlist: String,
        /// Set the painting as the playlist's cover.
        #[arg(long)]
        upload: bool,
        /// Where to write the JPEG.
        #[arg(long, short, default_value = "cover.jpg")]
        out: PathBuf,
        /// Whose playlist: `me` (the only signed-in user) or a Spotify
        /// account id.
        #[arg(long = "as", default_value = "me")]
        who: String,
        /// Image model (as for `art`).
        #[arg(long, env = "SPOTIFYART_MODEL")]
        model: Option<String>,
        #[command(flatten)]
        diffusion: DiffusionArgs,
        /// Denoising steps (layers for the palette painter).
        #[arg(long)]
        steps: Option<u32>,
        /// Random seed (default: derived from the mood).
        #[arg(long)]
        seed: Option<u64>,
        /// Style preset.
        #[arg(long, value_parser = styles())]
        style: Option<Style>,
        /// Mood model.
        #[arg(long, value_parser = mood_models(), default_value = DEFAULT_MOOD_MODEL)]
        mood_model: MoodModelEntry,
    },
    /// Weekly playlist tasks for a signed-in user, kept in the database and
    /// run by `spotifyart worker` (or `serve --workers`): each runs once a
    /// week, a missed week once. Needs `spotifyart login --covers`.
    Schedule {
        #[command(subcommand)]
        action: ScheduleAction,
        /// Whose playlists: `me` (the only signed-in user) or a Spotify
        /// account id.
        #[arg(long = "as", default_value = "me", global = true)]
        who: String,
    },
    /// Serve the API, the web page and (with --workers) paint queued art.
    ///
    /// Needs SPOTIFY_CLIENT_ID (and SPOTIFY_CLIENT_SECRET unless the app
    /// is PKCE-only) and SPOTIFY_REDIRECT_URI pointing at
    /// {SPOTIFYART_PUBLIC_URL}/auth/spotify/callback. See docs/deploy.md.
    Serve {
        #[command(flatten)]
        server: ServerArgs,
        /// Painting workers in this process (0: only standalone
        /// `spotifyart worker` processes paint).
        #[arg(long, env = "SPOTIFYART_WORKERS", default_value_t = 1)]
        workers: usize,
    },
    /// Paint queued art only (scale out next to `serve` on PostgreSQL).
    Worker {
        #[command(flatten)]
        painter: PainterArgs,
        /// Jobs painted at once by this process.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Create or upgrade the database schema (servers also do this at start).
    Migrate {
        /// Also rewrite tokens encrypted with an old key (listed in
        /// SPOTIFYART_ENCRYPTION_OLD_KEYS) with the current key.
        #[arg(long)]
        reencrypt: bool,
    },
}

/// What `spotifyart schedule` does.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ScheduleAction {
    /// Every week, paint PLAYLIST's cover from its mood and set it.
    Cover {
        /// The playlist: id, spotify:playlist: URI or open.spotify.com link.
        playlist: String,
    },
    /// Every week, copy the tracks of one playlist not yet in the archive
    /// into it.
    Archive {
        /// Playlist to copy from: id, URI or link.
        #[arg(long)]
        from: String,
        /// Archive playlist: id, URI or link, or a name (created private
        /// when missing).
        #[arg(long)]
        to: String,
    },
    /// The user's schedules: when each runs next and how the last run went.
    List,
    /// Stop a schedule.
    Remove {
        /// Its id, as `schedule list` shows it.
        id: String,
    },
}

/// What the service paints with.
#[derive(Clone, Debug, clap::Args)]
pub struct PainterArgs {
    /// Image model requests get by default: sd-turbo, sd-1.5, sd-2.1, sdxl,
    /// sdxl-turbo, palette; `tiny` paints noise with a random test network
    /// (tests only).
    #[arg(long, env = "SPOTIFYART_MODEL", default_value = spotifyart_engine::DEFAULT_MODEL)]
    pub model: String,
    /// Other models requests may ask for (comma-separated).
    #[arg(long, env = "SPOTIFYART_EXTRA_MODELS", value_delimiter = ',')]
    pub extra_models: Vec<String>,
    #[command(flatten)]
    pub diffusion: DiffusionArgs,
    /// Mood model.
    #[arg(long, value_parser = mood_models(), default_value = DEFAULT_MOOD_MODEL)]
    pub mood_model: MoodModelEntry,
    /// Seconds a worker holds a job without a heartbeat: a worker that
    /// dies loses its job this long after its last heartbeat, and another
    /// paints it.
    #[arg(long, env = "SPOTIFYART_JOB_LEASE", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_lease: u64,
}

/// `serve`'s settings (each also from the environment).
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "SPOTIFYART_BIND", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// The origin browsers reach the service at: CORS allows only it,
    /// redirects point at it, and an https one makes cookies Secure.
    #[arg(
        long,
        env = "SPOTIFYART_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: url::Url,
    /// Take the client address from the last X-Forwarded-For entry (only
    /// behind a proxy that sets it), for per-IP rate limits and logs.
    #[arg(long, env = "SPOTIFYART_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Turn the per-IP and per-user rate limits off (load tests only).
    #[arg(long, env = "SPOTIFYART_NO_RATE_LIMITS", hide = true)]
    pub no_rate_limits: bool,
    /// Redis shared by every replica for the rate limits
    /// (`redis://[:PASSWORD@]HOST[:PORT][/DB]`); without it each process
    /// counts its own.
    #[arg(long, env = "SPOTIFYART_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of this deployment's keys in Redis.
    #[arg(long, env = "SPOTIFYART_REDIS_PREFIX", default_value = "spotifyart:")]
    pub redis_prefix: String,
    /// Seconds a client has to send a request's headers, from connecting
    /// or from the previous response.
    #[arg(long, env = "SPOTIFYART_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout: u64,
    /// Seconds a kept-alive connection may sit idle after a response.
    #[arg(long, env = "SPOTIFYART_IDLE_TIMEOUT", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
    /// Connections served at once (further ones wait to be accepted);
    /// lowered to what the file limit allows.
    #[arg(long, env = "SPOTIFYART_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    #[command(flatten)]
    pub painter: PainterArgs,
}

/// Where Stable Diffusion weights come from and what runs them.
#[derive(Clone, Debug, clap::Args)]
pub struct DiffusionArgs {
    /// A diffusers-layout folder with the model's weights (text_encoder/,
    /// unet/, vae/, tokenizer/). Without it weights come from the Hugging
    /// Face cache, downloaded on first use when online.
    #[arg(long, env = "SPOTIFYART_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Device: auto (CUDA, then Metal, then CPU), cpu, cuda or cuda:N, metal
    /// or metal:N.
    #[arg(long, env = "SPOTIFYART_DEVICE", default_value = "auto")]
    pub device: spotifyart_diffusion::DeviceChoice,
    /// Sampler (default: the model's own): ddim, ddpm, euler,
    /// euler-ancestral, dpm-solver-2m.
    #[arg(long)]
    pub scheduler: Option<spotifyart_diffusion::SchedulerKind>,
    /// Latent decoder: auto (full VAE, tiled on CPUs), full, tiled, or
    /// tiny (TAESD: fast, slightly soft; needs madebyollin/taesd).
    #[arg(long, default_value = "auto")]
    pub decoder: spotifyart_diffusion::Decoder,
    /// What CPUs multiply in: auto (bf16 where the CPU has AMX, f32
    /// elsewhere), f32, or bf16 (AMX only). GPUs run f16 regardless.
    #[arg(long, env = "SPOTIFYART_PRECISION", default_value = "auto")]
    pub precision: spotifyart_diffusion::Precision,
    /// Never download weights; use the folder or the cache only.
    #[arg(long)]
    pub offline: bool,
}

impl Command {
    /// Whether this runs as a long-lived service (JSON logs).
    pub fn is_service(&self) -> bool {
        matches!(self, Command::Serve { .. } | Command::Worker { .. })
    }
}

/// Parses one of a core list's names (`-` accepted for `_`) and lists
/// them, with their help, in `--help` and in errors: the CLI's choices are
/// the core's own lists, never a copy.
#[derive(Clone)]
pub struct Names<T: 'static> {
    all: &'static [T],
    name: fn(&T) -> &'static str,
    about: fn(&T) -> Option<&'static str>,
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Names<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let normalized = value.to_string_lossy().replace('-', "_");
        let values: Vec<PossibleValue> = self.values().collect();
        // clap's own parser for the check, so errors read as clap's do.
        let name = PossibleValuesParser::new(values).parse_ref(cmd, arg, normalized.as_ref())?;
        Ok(self
            .all
            .iter()
            .find(|v| (self.name)(v) == name)
            .cloned()
            .expect("parsed from this list"))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.values()))
    }
}

impl<T> Names<T> {
    fn values(&self) -> impl Iterator<Item = PossibleValue> + '_ {
        self.all
            .iter()
            .map(|v| PossibleValue::new((self.name)(v)).help((self.about)(v)))
    }
}

fn mood_models() -> Names<MoodModelEntry> {
    Names {
        all: &MOOD_MODELS,
        name: |m| m.name,
        about: |m| Some(m.about),
    }
}

fn time_ranges() -> Names<TimeRange> {
    Names {
        all: &TimeRange::ALL,
        name: |r| r.as_str(),
        about: |r| Some(r.about()),
    }
}

fn styles() -> Names<Style> {
    Names {
        all: &Style::ALL,
        name: |s| s.as_str(),
        about: |_| None,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
