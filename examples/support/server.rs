//! The eventstream server as a child process of an example, so the example can kill it and
//! restart it where its clients reconnect.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long the server may take to start listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `eventstream serve`.
pub struct ServerProcess {
    binary: PathBuf,
    data_dir: PathBuf,
    addr: SocketAddr,
    child: tokio::process::Child,
}

impl ServerProcess {
    /// Starts `binary serve` on a free port of 127.0.0.1 with its data in `data_dir`.
    pub async fn start(binary: &Path, data_dir: &Path) -> Result<Self, Error> {
        let (addr, child) = spawn(binary, data_dir, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        Ok(Self {
            binary: binary.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            addr,
            child,
        })
    }

    /// The address clients use: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills the server with SIGKILL (no chance to flush or say goodbye), then starts it again
    /// on the same address and data directory after `downtime`.
    pub async fn crash_and_restart(&mut self, downtime: Duration) -> Result<(), Error> {
        self.child.start_kill()?;
        self.child.wait().await?;
        tokio::time::sleep(downtime).await;
        let (_, child) = spawn(&self.binary, &self.data_dir, self.addr).await?;
        self.child = child;
        Ok(())
    }
}

/// The server binary: `--eventstream-bin`, else `EVENTSTREAM_BIN`, else `eventstream` next to the
/// example's own directory (`target/debug/examples/../eventstream`, where `cargo build` puts it).
pub fn locate_binary(given: Option<PathBuf>) -> Result<PathBuf, Error> {
    if let Some(path) = given.or_else(|| std::env::var_os("EVENTSTREAM_BIN").map(PathBuf::from)) {
        return Ok(path);
    }
    let example = std::env::current_exe()?;
    let beside = example
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("eventstream"))
        .filter(|path| path.exists());
    beside.ok_or_else(|| {
        "cannot find the eventstream binary: run `cargo build` or pass --eventstream-bin".into()
    })
}

async fn spawn(
    binary: &Path,
    data_dir: &Path,
    listen: SocketAddr,
) -> Result<(SocketAddr, tokio::process::Child), Error> {
    let mut child = tokio::process::Command::new(binary)
        .arg("serve")
        .arg(format!("--listen={listen}"))
        .arg(format!("--data-dir={}", data_dir.display()))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    // The server's first line says where it listens: "eventstream listening on ADDR, data in ...".
    let addr = tokio::time::timeout(STARTUP_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest.split(',').next().unwrap_or_default();
                return Ok::<_, Error>(addr.parse::<SocketAddr>()?);
            }
        }
        Err("the server exited before listening".into())
    })
    .await
    .map_err(|_| "the server did not start listening in time")??;
    // Keep reading its log so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((addr, child))
}
