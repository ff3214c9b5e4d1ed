//! [`ThrowawayPostgres`]: a PostgreSQL server of a test's own, on a free
//! port, that the test can stop and start again (fault tests).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use chat_core::testkit::backend_unavailable;

/// A private PostgreSQL cluster (`initdb` in a temporary directory, trust
/// authentication, user `postgres`) listening on 127.0.0.1 and a free port.
/// Dropping it stops the server and deletes its files.
///
/// It needs PostgreSQL's server programs (`/usr/lib/postgresql/*/bin`);
/// when running as root, the server runs as the `postgres` user, since
/// `initdb` refuses root.
#[derive(Debug)]
pub struct ThrowawayPostgres {
    server: Server,
}

/// Where the cluster lives and how to run its programs (no `Drop`: the
/// blocking tasks get copies).
#[derive(Debug, Clone)]
struct Server {
    dir: PathBuf,
    bindir: PathBuf,
    port: u16,
    run_as_postgres: bool,
}

impl ThrowawayPostgres {
    /// Creates and starts one; `None` (a panic when backends are required)
    /// when PostgreSQL's server programs are missing.
    pub async fn start() -> Option<Self> {
        match tokio::task::spawn_blocking(Server::create).await {
            Ok(Ok(server)) => Some(Self { server }),
            Ok(Err(why)) => unavailable(&why),
            Err(e) => unavailable(&e.to_string()),
        }
    }

    /// Its URL (database `postgres`).
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.server.port
        )
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m
    /// immediate`): connections break, and nothing waits for them.
    pub async fn stop(&self) {
        let server = self.server.clone();
        match tokio::task::spawn_blocking(move || server.stop_server()).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => panic!("cannot stop the throwaway PostgreSQL: {why}"),
            Err(e) => panic!("cannot stop the throwaway PostgreSQL: {e}"),
        }
    }

    /// Starts the server again on the same port and data.
    pub async fn restart(&self) {
        let server = self.server.clone();
        match tokio::task::spawn_blocking(move || server.start_server()).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => panic!("cannot restart the throwaway PostgreSQL: {why}"),
            Err(e) => panic!("cannot restart the throwaway PostgreSQL: {e}"),
        }
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let _ = self.server.stop_server();
        let _ = std::fs::remove_dir_all(&self.server.dir);
    }
}

impl Server {
    fn create() -> Result<Self, String> {
        let bindir = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("no /usr/lib/postgresql: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .ok_or("no initdb under /usr/lib/postgresql")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let dir = std::env::temp_dir().join(format!("chat-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let run_as_postgres = is_root();
        let pg = Self {
            dir,
            bindir,
            port,
            run_as_postgres,
        };
        if run_as_postgres {
            pg.run("chown", &["postgres", &pg.dir.display().to_string()], false)?;
        }
        let data = pg.data().display().to_string();
        pg.run(
            &pg.bin("initdb"),
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
            true,
        )?;
        pg.start_server()?;
        Ok(pg)
    }

    fn stop_server(&self) -> Result<(), String> {
        let data = self.data().display().to_string();
        self.run(
            &self.bin("pg_ctl"),
            &["-D", &data, "-m", "immediate", "-w", "stop"],
            true,
        )
    }

    fn start_server(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        let data = self.data().display().to_string();
        self.run(
            &self.bin("pg_ctl"),
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
            true,
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn bin(&self, name: &str) -> String {
        self.bindir.join(name).display().to_string()
    }

    /// Runs a program (as `postgres` when `as_postgres` and we are root).
    fn run(&self, program: &str, args: &[&str], as_postgres: bool) -> Result<(), String> {
        let mut command = if as_postgres && self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Skips (says why, records the skip, returns `None`) or, when backends
/// are required, panics.
fn unavailable<T>(why: &str) -> Option<T> {
    backend_unavailable(
        "PostgreSQL",
        &format!("cannot start a throwaway PostgreSQL: {why}"),
        "install PostgreSQL's server programs (Debian: apt-get install postgresql)",
    )
}
