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
    /// Image upload/download throughput beside the disk's own speed, and image-list latency.
    Glance(GlanceBench),
}

#[derive(Args)]
pub struct GlanceBench {
    /// Image size in MiB.
    #[arg(long, default_value_t = 512)]
    size_mib: u64,
    /// Images to create for the list-latency measurement.
    #[arg(long, default_value_t = 1000)]
    images: usize,
    /// Data dir (on the disk to measure; a temporary one by default).
    #[arg(long)]
    data_dir: Option<PathBuf>,
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
        BenchCommand::Glance(b) => glance(b).await,
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

/// A deterministic, incompressible-enough chunk stream of `total` bytes (never held whole).
fn pattern_chunks(total: u64) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    const CHUNK: u64 = 1 << 20;
    futures::stream::unfold(0u64, move |sent| async move {
        if sent >= total {
            return None;
        }
        let n = CHUNK.min(total - sent) as usize;
        let mut buf = vec![0u8; n];
        let mut x = sent.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        Some((Ok(buf), sent + n as u64))
    })
}

fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

async fn glance(b: GlanceBench) -> Result<(), CliError> {
    use futures::StreamExt;
    let dir = b.data_dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("ferrostack-bench-glance-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Io { context: "bench data dir".into(), source })?;
    let total = b.size_mib << 20;
    let other = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());

    // The disk's own sequential write (with fsync, as the store does) and read.
    let raw = dir.join("raw-baseline");
    let t = Instant::now();
    {
        use tokio::io::AsyncWriteExt;
        let mut f = tokio::fs::File::create(&raw).await.map_err(|e| other(&e))?;
        let mut chunks = Box::pin(pattern_chunks(total));
        while let Some(c) = chunks.next().await {
            f.write_all(&c.map_err(|e| other(&e))?).await.map_err(|e| other(&e))?;
        }
        f.sync_all().await.map_err(|e| other(&e))?;
    }
    let disk_write = t.elapsed();
    let drop_caches = || {
        let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
    };
    drop_caches();
    let t = Instant::now();
    {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(&raw).await.map_err(|e| other(&e))?;
        let mut buf = vec![0u8; 1 << 20];
        while f.read(&mut buf).await.map_err(|e| other(&e))? > 0 {}
    }
    let disk_read = t.elapsed();
    let _ = std::fs::remove_file(&raw);

    // Keystone and Glance in this process, over HTTP on loopback.
    let (_trigger, shutdown) = common::server::Shutdown::new();
    let (ks_app, ks) = crate::cloud::ephemeral_keystone(&dir, "bench-pw", 4, shutdown.clone()).await?;
    let mut cfg = common::config::Config::default();
    cfg.set("glance_store", "filesystem_store_datadir", dir.join("images").display().to_string());
    cfg.set("os_glance_staging_store", "filesystem_store_datadir", dir.join("staging").display().to_string());
    let gcfg = glance::GlanceConfig::from_config(&cfg, &dir)?;
    let gapp = glance::open(gcfg).await.map_err(|e| other(&e))?;
    let validator: std::sync::Arc<dyn auth::TokenValidator> = std::sync::Arc::new(keystone::validator::LocalValidator(ks_app));
    let gl = crate::cloud::start_glance(gapp, "127.0.0.1:0", validator, shutdown).await?;
    let client = reqwest::Client::new();
    let auth = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "bench-pw"}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}});
    let r = client.post(format!("{}/v3/auth/tokens", ks.url)).json(&auth).send().await.map_err(|e| other(&e))?;
    let token = r.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();

    let create = |name: String| {
        let (client, url, token) = (client.clone(), gl.url.clone(), token.clone());
        async move {
            let r = client.post(format!("{url}/v2/images")).header("x-auth-token", &token).json(&json!({"name": name, "disk_format": "raw", "container_format": "bare"})).send().await?;
            let v: serde_json::Value = r.json().await?;
            Ok::<String, reqwest::Error>(v["id"].as_str().unwrap_or_default().to_string())
        }
    };
    let id = create("bench".into()).await.map_err(|e| other(&e))?;
    let t = Instant::now();
    let r = client
        .put(format!("{}/v2/images/{id}/file", gl.url))
        .header("x-auth-token", &token)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(pattern_chunks(total)))
        .send()
        .await
        .map_err(|e| other(&e))?;
    let upload = t.elapsed();
    if r.status().as_u16() != 204 {
        return Err(CliError::Other(format!("upload failed: {}", r.status())));
    }
    drop_caches();
    let t = Instant::now();
    let mut r = client.get(format!("{}/v2/images/{id}/file", gl.url)).header("x-auth-token", &token).send().await.map_err(|e| other(&e))?;
    let mut got = 0u64;
    while let Some(c) = r.chunk().await.map_err(|e| other(&e))? {
        got += c.len() as u64;
    }
    let download = t.elapsed();
    println!("image of {} MiB (md5 + sha512 + format inspection on the way in):", b.size_mib);
    println!("  disk sequential write (fsync) {:>8.1} MB/s   glance upload   {:>8.1} MB/s   ({:.0}% of the disk)", mb_s(total, disk_write), mb_s(total, upload), 100.0 * mb_s(total, upload) / mb_s(total, disk_write));
    println!("  disk sequential read          {:>8.1} MB/s   glance download {:>8.1} MB/s   ({:.0}% of the disk; {got} bytes)", mb_s(total, disk_read), mb_s(got, download), 100.0 * mb_s(got, download) / mb_s(total, disk_read));

    for i in 0..b.images {
        create(format!("img-{i}")).await.map_err(|e| other(&e))?;
    }
    let mut lat = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = client.get(format!("{}/v2/images?limit=1000", gl.url)).header("x-auth-token", &token).send().await.map_err(|e| other(&e))?;
        let _ = r.bytes().await.map_err(|e| other(&e))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!("image-list with {} images (limit=1000): p50 {:.1} ms, p99 {:.1} ms over 20 calls", b.images + 1, lat[10], lat[19]);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
