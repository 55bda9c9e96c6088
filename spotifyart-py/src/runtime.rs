//! Long work from Python: the future runs on a shared tokio runtime while
//! the calling thread waits with the GIL released, waking every 100 ms to
//! draw progress and check for Ctrl-C. Ctrl-C cancels the run (a painting
//! stops at its next step) and raises KeyboardInterrupt at once, so the
//! kernel stays alive and responsive.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;
use spotifyart_core::{CancelToken, Error, GenerationContext, Progress, Stage};

use crate::errors::to_py;

/// How often a waiting call looks at Ctrl-C and the progress.
const TICK: Duration = Duration::from_millis(100);

/// The runtime every call shares (database pools and HTTP clients live on
/// it, so it is never dropped).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("spotifyart")
            .enable_all()
            .build()
            .expect("a tokio runtime can be built")
    })
}

/// What a run reports while it works, and how to stop it.
#[derive(Clone, Default)]
pub struct Watch {
    cancel: CancelToken,
    latest: Arc<Mutex<Option<Progress>>>,
    bar: Option<Arc<Py<PyAny>>>,
}

impl Watch {
    /// A watch drawing `progress` (the Python-side argument: True, False,
    /// "auto", "tqdm", "plain" or a callable) with `spotifyart._progress`.
    pub fn new(py: Python<'_>, progress: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bar = py
            .import("spotifyart._progress")?
            .call_method1("make", (progress,))?;
        Ok(Self {
            bar: (!bar.is_none()).then(|| Arc::new(bar.unbind())),
            ..Self::default()
        })
    }

    /// A generation context that reports here and stops when cancelled.
    pub fn context(&self) -> GenerationContext {
        let latest = self.latest.clone();
        GenerationContext::new()
            .with_cancel(self.cancel.clone())
            .on_progress(move |p: Progress| {
                *latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
            })
    }

    fn draw(&self, py: Python<'_>, shown: &mut Option<Progress>) -> PyResult<()> {
        let Some(bar) = &self.bar else {
            return Ok(());
        };
        let now = *self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = now
            && now != *shown
        {
            bar.call_method1(py, "update", (stage_name(p.stage), p.step, p.total))?;
            *shown = now;
        }
        Ok(())
    }

    fn close(&self, py: Python<'_>) {
        if let Some(bar) = &self.bar {
            let _ = bar.call_method0(py, "close");
        }
    }
}

/// The stage as Python sees it.
pub fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Loading => "loading",
        Stage::Encoding => "encoding",
        Stage::Denoising => "denoising",
        Stage::Decoding => "decoding",
    }
}

/// Runs `fut` to the end (see the module docs). A future that ignores the
/// watch's cancel token keeps running in the background after Ctrl-C and
/// finishes what it started (a store write is never cut in half).
pub fn wait<T, F>(py: Python<'_>, watch: &Watch, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = spotifyart_core::Result<T>> + Send + 'static,
{
    let mut handle = runtime().spawn(fut);
    let mut shown = None;
    let result = loop {
        let done = py
            .detach(|| runtime().block_on(async { tokio::time::timeout(TICK, &mut handle).await }));
        if let Ok(joined) = done {
            let _ = watch.draw(py, &mut shown);
            break joined
                .unwrap_or_else(|e| Err(Error::internal(format!("a SpotifyArt task failed: {e}"))))
                .map_err(to_py);
        }
        if let Err(e) = watch.draw(py, &mut shown) {
            watch.cancel.cancel();
            break Err(e);
        }
        if let Err(interrupt) = py.check_signals() {
            watch.cancel.cancel();
            break Err(interrupt);
        }
    };
    watch.close(py);
    result
}

/// [`wait`] for short calls that draw nothing.
pub fn wait_quiet<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = spotifyart_core::Result<T>> + Send + 'static,
{
    wait(py, &Watch::default(), fut)
}
