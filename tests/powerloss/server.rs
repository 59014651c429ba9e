//! The server binary as a child process whose log is kept, so a server that cannot start after a
//! power cut can say why.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

use crate::common::{Client, TIMEOUT, connect, within};

/// Lines of the server's log kept for failure messages.
const LOG_LINES: usize = 100;

type Log = Arc<Mutex<VecDeque<String>>>;

/// The end of a server's log, readable while it runs and after it is gone.
#[derive(Clone)]
pub struct ServerLog(Log);

impl ServerLog {
    pub fn tail(&self) -> String {
        tail(&self.0)
    }
}

/// `eventstream serve` on 127.0.0.1:0.
pub struct Server {
    pub addr: SocketAddr,
    child: tokio::process::Child,
    log: Log,
}

fn tail(log: &Log) -> String {
    let lines = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    lines.iter().cloned().collect::<Vec<_>>().join("\n")
}

impl Server {
    /// Starts the server on `data_dir` with extra `args`; waits for its "listening on" line.
    /// `Err` holds the end of its log if it exits first.
    pub async fn start(data_dir: &Path, args: &[&str]) -> Result<Self, String> {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), data_dir, args).await
    }

    /// [`Server::start`] listening on `listen`: a stopped server's `addr` restarts it where
    /// its clients reconnect.
    pub async fn start_at(
        listen: SocketAddr,
        data_dir: &Path,
        args: &[&str],
    ) -> Result<Self, String> {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream"))
            .arg("serve")
            .arg(format!("--listen={listen}"))
            .arg(format!("--data-dir={}", data_dir.display()))
            .args(args)
            .env("RUST_LOG", "info")
            // A panic's message, not a backtrace, should be what the kept lines show.
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn server binary");
        let log: Log = Arc::default();
        let (listening, address) = oneshot::channel();
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let keep = Arc::clone(&log);
        // Drains stderr for the server's whole life, so it never blocks on a full pipe.
        tokio::spawn(async move {
            let mut listening = Some(listening);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(sender) = listening.take()
                {
                    let addr = rest.split(',').next().unwrap_or_default();
                    let _ = sender.send(addr.parse::<SocketAddr>().ok());
                }
                let mut kept = keep.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if kept.len() == LOG_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        match tokio::time::timeout(TIMEOUT, address).await {
            Ok(Ok(Some(addr))) => Ok(Self { addr, child, log }),
            Ok(Ok(None)) => Err(format!("unparsable listening line:\n{}", tail(&log))),
            // The log ended without a listening line: the server exited.
            Ok(Err(_)) => {
                let status = within(child.wait()).await.expect("wait");
                Err(format!(
                    "server exited ({status}) before listening; its log:\n{}",
                    tail(&log)
                ))
            }
            Err(_) => Err(format!(
                "server not listening after {TIMEOUT:?}; its log:\n{}",
                tail(&log)
            )),
        }
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        connect(self.addr).await
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// The server's log, for failure messages of tasks that outlive this handle.
    pub fn log(&self) -> ServerLog {
        ServerLog(Arc::clone(&self.log))
    }

    /// The process id, to watch its memory and open files.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// SIGTERM; returns the exit status once the process is gone.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = i32::try_from(self.pid()).expect("pid");
        // SAFETY: sending a signal to our own child process, which has not been waited for.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        within(self.child.wait()).await.expect("wait")
    }

    /// SIGKILL, and wait until the process is gone (its files closed).
    pub async fn kill(self) {
        self.kill_then(|| {}).await;
    }

    /// SIGKILL, then `after_signal` (which may unblock the dying process), then wait until the
    /// process is gone.
    pub async fn kill_then(mut self, after_signal: impl FnOnce()) {
        self.child.start_kill().expect("kill");
        after_signal();
        within(self.child.wait()).await.expect("wait");
    }
}
