//! Benchmarks (measurements, not tests). `ferrostack bench keystone` starts its own Keystone
//! on an ephemeral port (or targets `--url`), then measures token issue (POST
//! /v3/auth/tokens, bound by bcrypt) and token validate (GET /v3/auth/tokens) at each
//! concurrency for a fixed duration, and prints requests/s with p50/p99 latency beside
//! bcrypt's own cost per hash.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;

use crate::CliError;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Token issue and validate throughput.
    Keystone(KeystoneBench),
}

#[derive(Args)]
pub struct KeystoneBench {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    concurrency: Vec<usize>,
    /// bcrypt cost for the benchmark's own Keystone.
    #[arg(long, default_value_t = 12)]
    hash_rounds: u32,
    /// Benchmark an existing Keystone instead (OS_AUTH_URL-style, ending in /v3).
    #[arg(long)]
    url: Option<String>,
    #[arg(long, default_value = "bench-admin-password")]
    password: String,
    /// Data dir for the benchmark's own Keystone (a temporary one by default).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub async fn run(cmd: BenchCommand) -> Result<(), CliError> {
    match cmd {
        BenchCommand::Keystone(b) => keystone(b).await,
    }
}

struct Stats {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn line(&self, name: &str, concurrency: usize) -> String {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| -> f64 {
            if l.is_empty() {
                return 0.0;
            }
            let i = ((l.len() as f64 - 1.0) * p).round() as usize;
            l[i].as_secs_f64() * 1000.0
        };
        format!(
            "{name:<16} concurrency {concurrency:>2}: {:>9.1} req/s   p50 {:>8.3} ms   p99 {:>8.3} ms   ({} requests, {} errors)",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            self.requests,
            self.errors
        )
    }
}

async fn measure<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Stats
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if !op().await {
                    errors += 1;
                }
                lat.push(t.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((l, e)) = w.await {
            latencies.extend(l);
            errors += e;
        }
    }
    Stats { requests: latencies.len(), errors, elapsed: start.elapsed(), latencies }
}

async fn keystone(b: KeystoneBench) -> Result<(), CliError> {
    let (_trigger, shutdown) = common::server::Shutdown::new();
    let tmp = std::env::temp_dir().join(format!("ferrostack-bench-{}", std::process::id()));
    let (base, owned_dir) = match &b.url {
        Some(u) => (u.trim_end_matches('/').trim_end_matches("/v3").to_string(), None),
        None => {
            let dir = b.data_dir.clone().unwrap_or_else(|| tmp.clone());
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|source| CliError::Io { context: "bench data dir".into(), source })?;
            let (_app, running) = crate::cloud::ephemeral_keystone(&dir, &b.password, b.hash_rounds, shutdown.clone()).await?;
            (running.url, Some(dir))
        }
    };
    println!("Keystone under test: {base}  (bcrypt cost {}, each measurement {} s)", b.hash_rounds, b.duration);

    // bcrypt's own cost per hash verification, the floor for password authentication.
    let hash = bcrypt::hash("bench", b.hash_rounds).map_err(|e| CliError::Other(e.to_string()))?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let _ = bcrypt::verify("bench", &hash);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let bcrypt_ms = times[2];
    println!("bcrypt verify at cost {}: {:.1} ms per hash (median of 5) => at most {:.1} verifications/s per core", b.hash_rounds, bcrypt_ms, 1000.0 / bcrypt_ms);

    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().map_err(|e| CliError::Other(e.to_string()))?;
    let auth_body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": b.password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}
    }});
    let issue_url = format!("{base}/v3/auth/tokens?nocatalog");
    let resp = client.post(&issue_url).json(&auth_body).send().await.map_err(|e| CliError::Other(e.to_string()))?;
    if resp.status().as_u16() != 201 {
        return Err(CliError::Other(format!("authentication failed: {}", resp.status())));
    }
    let token = resp.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();

    for &c in &b.concurrency {
        let (client, url, body) = (client.clone(), issue_url.clone(), auth_body.clone());
        let s = measure(c, Duration::from_secs(b.duration), move || {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            async move { matches!(client.post(&url).json(&body).send().await, Ok(r) if r.status().as_u16() == 201) }
        })
        .await;
        println!("{}", s.line("token issue", c));
        let per_hash = s.requests as f64 / s.elapsed.as_secs_f64() * bcrypt_ms / 1000.0;
        println!("{:<16} => {:.0}% of one core's bcrypt rate (2 cores here)", "", per_hash * 100.0);
    }
    let validate_url = format!("{base}/v3/auth/tokens");
    for &c in &b.concurrency {
        let (client, url, token) = (client.clone(), validate_url.clone(), token.clone());
        let s = measure(c, Duration::from_secs(b.duration), move || {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            async move {
                match client.get(&url).header("x-auth-token", &token).header("x-subject-token", &token).send().await {
                    Ok(r) => r.status().as_u16() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await;
        println!("{}", s.line("token validate", c));
    }
    if let Some(dir) = owned_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}
