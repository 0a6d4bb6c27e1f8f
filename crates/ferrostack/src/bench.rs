//! Benchmarks (measurements, not tests). `ferrostack bench keystone` starts its own Keystone
//! on an ephemeral port (or targets `--url`), then measures token issue (POST
//! /v3/auth/tokens, bound by bcrypt) and token validate (GET /v3/auth/tokens) at each
//! concurrency for a fixed duration, and prints requests/s with p50/p99 latency beside
//! bcrypt's own cost per hash. `ferrostack bench placement` measures allocation-candidate
//! latency over many providers and concurrent claims per second; `ferrostack bench neutron`
//! network create+delete and port create per second. `ferrostack bench nova` runs Keystone,
//! Glance, Placement and Nova in-process with N fake compute hosts and boots M servers through
//! the API, timing registration and the builds to ACTIVE.

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
    /// Allocation-candidate latency over many providers, and concurrent claims per second.
    Placement(PlacementBench),
    /// The compute control plane at scale: fake hosts register, then servers are booted
    /// through the API until every one is ACTIVE.
    Nova(NovaBench),
    /// Network create+delete and port create per second (Rally's NeutronNetworks scenarios).
    Neutron(NeutronBench),
}

#[derive(Args)]
pub struct NovaBench {
    /// Fake compute hosts (each 64 vCPUs, 256 GiB, 4 TiB).
    #[arg(long, default_value_t = 1000)]
    hosts: usize,
    /// Servers to boot.
    #[arg(long, default_value_t = 10000)]
    servers: usize,
    /// Servers per `POST /servers` (`min_count` = `max_count`).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Create requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

#[derive(Args)]
pub struct NeutronBench {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    concurrency: Vec<usize>,
    /// `[database] connection` (default: SQLite in a temporary data dir).
    #[arg(long)]
    connection: Option<String>,
}

#[derive(Args)]
pub struct PlacementBench {
    /// Compute-node providers to create (each VCPU 64, MEMORY_MB 262144, DISK_GB 4096).
    #[arg(long, default_value_t = 1000)]
    providers: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    concurrency: Vec<usize>,
    /// `[placement_database] connection` (default: SQLite in a temporary data dir).
    #[arg(long)]
    connection: Option<String>,
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
        BenchCommand::Placement(b) => placement_bench(b).await,
        BenchCommand::Nova(b) => nova_bench(b).await,
        BenchCommand::Neutron(b) => neutron_bench(b).await,
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

/// A deterministic, incompressible-enough chunk stream of `total` bytes, cut from a 16 MiB
/// pool generated once, so producing the data costs the benchmark next to nothing (the disk
/// baseline and the upload both read from it).
fn pattern_chunks(total: u64) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    const CHUNK: u64 = 1 << 20;
    const POOL: u64 = 16 << 20;
    let mut pool = vec![0u8; POOL as usize];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for word in pool.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        word.copy_from_slice(&x.to_le_bytes()[..word.len()]);
    }
    let pool = bytes::Bytes::from(pool);
    futures::stream::unfold(0u64, move |sent| {
        let pool = pool.clone();
        async move {
            if sent >= total {
                return None;
            }
            let n = CHUNK.min(total - sent);
            let at = (sent % POOL) as usize;
            Some((Ok(pool.slice(at..at + n as usize)), sent + n))
        }
    })
}

/// CPU seconds this process has used (user + system), from /proc (0 where there is none).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state; utime and stime
    // are the 12th and 13th of those, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / 100.0
}

fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

async fn glance(b: GlanceBench) -> Result<(), CliError> {
    use futures::StreamExt;
    let dir = fresh_dir(b.data_dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("ferrostack-bench-glance-{}", std::process::id()))))?;
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

    // The digests alone: md5 and sha512 of the same bytes in memory, each on its own thread
    // as the upload path runs them. No upload can beat this on this CPU.
    let digest = {
        let chunks: Vec<bytes::Bytes> = futures::executor::block_on_stream(Box::pin(pattern_chunks(total))).filter_map(Result::ok).collect();
        let t = Instant::now();
        let md5 = std::thread::spawn({
            let chunks = chunks.clone();
            move || {
                use md5::Digest;
                let mut d = md5::Md5::new();
                chunks.iter().for_each(|c| d.update(c));
                d.finalize().len()
            }
        });
        let sha = std::thread::spawn(move || {
            use sha2::Digest;
            let mut d = sha2::Sha512::new();
            chunks.iter().for_each(|c| d.update(c));
            d.finalize().len()
        });
        let _ = (md5.join(), sha.join());
        t.elapsed()
    };

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
    let cpu0 = cpu_seconds();
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
    let upload_cpu = cpu_seconds() - cpu0;
    if r.status().as_u16() != 204 {
        return Err(CliError::Other(format!("upload failed: {}", r.status())));
    }
    drop_caches();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let mut r = client.get(format!("{}/v2/images/{id}/file", gl.url)).header("x-auth-token", &token).send().await.map_err(|e| other(&e))?;
    let mut got = 0u64;
    while let Some(c) = r.chunk().await.map_err(|e| other(&e))? {
        got += c.len() as u64;
    }
    let download = t.elapsed();
    let download_cpu = cpu_seconds() - cpu0;
    println!("image of {} MiB (md5 + sha512 + format inspection on the way in):", b.size_mib);
    println!("  disk sequential write (fsync) {:>8.1} MB/s   glance upload   {:>8.1} MB/s   ({:.0}% of the disk)", mb_s(total, disk_write), mb_s(total, upload), 100.0 * mb_s(total, upload) / mb_s(total, disk_write));
    println!("  disk sequential read          {:>8.1} MB/s   glance download {:>8.1} MB/s   ({:.0}% of the disk; {got} bytes)", mb_s(total, disk_read), mb_s(got, download), 100.0 * mb_s(got, download) / mb_s(total, disk_read));
    println!("  md5 + sha512 in memory        {:>8.1} MB/s   (the digests alone, in parallel: upload is {:.0}% of it)", mb_s(total, digest), 100.0 * mb_s(total, upload) / mb_s(total, digest));
    println!(
        "  CPU (client and server in this process, {} cores): upload {:.1} s in {:.1} s wall, download {:.1} s in {:.1} s wall",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        upload_cpu,
        upload.as_secs_f64(),
        download_cpu,
        download.as_secs_f64()
    );

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

/// `ferrostack bench neutron`: Keystone and Neutron in this process over loopback HTTP, as
/// Rally's NeutronNetworks.create_and_delete_networks (POST then DELETE one network: one
/// request pair per operation, with a VXLAN segment allocated and released) and
/// create_and_list_ports' create half (POST /v2.0/ports on a /16, IPAM included). Quotas
/// are lifted so the port count is not the limit.
/// An empty data dir for a benchmark's own services (what a previous run left is removed).
fn fresh_dir(dir: PathBuf) -> Result<PathBuf, CliError> {
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Io { context: "bench data dir".into(), source })?;
    Ok(dir)
}

async fn neutron_bench(b: NeutronBench) -> Result<(), CliError> {
    let other = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let dir = fresh_dir(std::env::temp_dir().join(format!("ferrostack-bench-neutron-{}", std::process::id())))?;
    let (_trigger, shutdown) = common::server::Shutdown::new();
    let (ks_app, ks) = crate::cloud::ephemeral_keystone(&dir, "bench-pw", 4, shutdown.clone()).await?;
    let mut cfg = common::config::Config::parse("[ml2]\ntenant_network_types = vxlan\n[ml2_type_vxlan]\nvni_ranges = 1:100000\n[quotas]\nquota_network = -1\nquota_port = -1\nquota_subnet = -1\n", "bench")?;
    if let Some(c) = &b.connection {
        cfg.set("database", "connection", c.clone());
    }
    let napp = neutron::open(neutron::NeutronConfig::from_config(&cfg, &dir)?).await.map_err(|e| other(&e))?;
    let validator: std::sync::Arc<dyn auth::TokenValidator> = std::sync::Arc::new(keystone::validator::LocalValidator(ks_app));
    let nt = crate::cloud::start_neutron(napp, "127.0.0.1:0", validator, shutdown).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().map_err(|e| other(&e))?;
    let auth = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "bench-pw"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let resp = client.post(format!("{}/v3/auth/tokens", ks.url)).json(&auth).send().await.map_err(|e| other(&e))?;
    let token = resp.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).map(str::to_string).ok_or_else(|| CliError::Other("no token from Keystone".into()))?;
    let base = nt.url.clone();
    println!("Neutron under test: {base}  (each measurement {} s)", b.duration);
    for &c in &b.concurrency {
        let (client, token, base) = (client.clone(), token.clone(), base.clone());
        let s = measure(c, Duration::from_secs(b.duration), move || {
            let (client, token, base) = (client.clone(), token.clone(), base.clone());
            async move {
                let Ok(r) = client.post(format!("{base}/v2.0/networks")).header("x-auth-token", &token).json(&json!({"network": {"name": "bench"}})).send().await else { return false };
                let Ok(body) = r.json::<serde_json::Value>().await else { return false };
                let Some(id) = body["network"]["id"].as_str() else { return false };
                client.delete(format!("{base}/v2.0/networks/{id}")).header("x-auth-token", &token).send().await.is_ok_and(|r| r.status().as_u16() == 204)
            }
        })
        .await;
        println!("{}", s.line("net create+del", c));
    }
    let r = client.post(format!("{base}/v2.0/networks")).header("x-auth-token", &token).json(&json!({"network": {"name": "ports"}})).send().await.map_err(|e| other(&e))?;
    let net: serde_json::Value = r.json().await.map_err(|e| other(&e))?;
    let net_id = net["network"]["id"].as_str().unwrap_or_default().to_string();
    let r = client.post(format!("{base}/v2.0/subnets")).header("x-auth-token", &token).json(&json!({"subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.0.0.0/16"}})).send().await.map_err(|e| other(&e))?;
    if !r.status().is_success() {
        return Err(CliError::Other(format!("cannot create the bench subnet: {}", r.status())));
    }
    for &c in &b.concurrency {
        let (client, token, base, net_id) = (client.clone(), token.clone(), base.clone(), net_id.clone());
        let s = measure(c, Duration::from_secs(b.duration), move || {
            let (client, token, base, net_id) = (client.clone(), token.clone(), base.clone(), net_id.clone());
            async move {
                client.post(format!("{base}/v2.0/ports")).header("x-auth-token", &token).json(&json!({"port": {"network_id": net_id}})).send().await.is_ok_and(|r| r.status().as_u16() == 201)
            }
        })
        .await;
        println!("{}", s.line("port create", c));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `ferrostack bench placement`: Keystone and Placement in this process over loopback HTTP,
/// N compute-node providers created through the REST client (as Nova's resource tracker
/// does), then GET /allocation_candidates latency with every provider a candidate (Nova's
/// scheduler asks for up to `max_placement_results` = 1000 by default) and with limit=10, and
/// claims/s: concurrent PUT /allocations of one VCPU each, spread over 50 providers.
async fn placement_bench(b: PlacementBench) -> Result<(), CliError> {
    use placement::client::{CandidateQuery, Credentials, Inventory, PlacementClient};
    let other = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let dir = fresh_dir(std::env::temp_dir().join(format!("ferrostack-bench-placement-{}", std::process::id())))?;
    let (_trigger, shutdown) = common::server::Shutdown::new();
    let (ks_app, ks) = crate::cloud::ephemeral_keystone(&dir, "bench-pw", 4, shutdown.clone()).await?;
    let mut cfg = common::config::Config::default();
    if let Some(c) = &b.connection {
        cfg.set("placement_database", "connection", c.clone());
    }
    let papp = placement::open(placement::PlacementConfig::from_config(&cfg, &dir)?).await.map_err(|e| other(&e))?;
    let validator: std::sync::Arc<dyn auth::TokenValidator> = std::sync::Arc::new(keystone::validator::LocalValidator(ks_app));
    let pl = crate::cloud::start_placement(papp, "127.0.0.1:0", validator, shutdown).await?;
    let credentials = Credentials::Password {
        auth_url: format!("{}/v3", ks.url),
        username: "admin".into(),
        password: "bench-pw".into(),
        project_name: "admin".into(),
        user_domain_name: "Default".into(),
        project_domain_name: "Default".into(),
    };
    let client = std::sync::Arc::new(PlacementClient::new(&pl.url, credentials));
    let inventory: std::collections::BTreeMap<String, Inventory> =
        [("VCPU", Inventory { allocation_ratio: 4.0, ..Inventory::of(64) }), ("MEMORY_MB", Inventory::of(262_144)), ("DISK_GB", Inventory::of(4096))].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let t = Instant::now();
    let mut uuids = Vec::with_capacity(b.providers);
    for chunk in (0..b.providers).collect::<Vec<_>>().chunks(16) {
        let mut tasks = Vec::new();
        for i in chunk {
            let (client, inventory) = (client.clone(), inventory.clone());
            let uuid = common::ids::new_uuid();
            uuids.push(uuid.clone());
            let name = format!("compute-{i:05}");
            tasks.push(tokio::spawn(async move { client.set_compute_node_inventory(&uuid, &name, &inventory).await }));
        }
        for task in tasks {
            task.await.map_err(|e| other(&e))?.map_err(|e| other(&e))?;
        }
    }
    println!("Placement under test: {}  ({} providers created with inventory in {:.1} s)", pl.url, b.providers, t.elapsed().as_secs_f64());
    let query = CandidateQuery::resources(&[("VCPU".to_string(), 2), ("MEMORY_MB".to_string(), 4096), ("DISK_GB".to_string(), 40)].into_iter().collect());
    for (label, q) in [("candidates (all)", query.clone()), ("candidates limit=10", query.clone().with("limit", "10"))] {
        for &c in &b.concurrency {
            let (client, q) = (client.clone(), q.clone());
            let s = measure(c, Duration::from_secs(b.duration), move || {
                let (client, q) = (client.clone(), q.clone());
                async move { client.allocation_candidates(&q).await.is_ok_and(|a| !a.allocation_requests.is_empty()) }
            })
            .await;
            println!("{}", s.line(label, c));
        }
    }
    let uuids = std::sync::Arc::new(uuids);
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for &c in &b.concurrency {
        let (client, uuids, counter) = (client.clone(), uuids.clone(), counter.clone());
        let s = measure(c, Duration::from_secs(b.duration), move || {
            let (client, uuids, counter) = (client.clone(), uuids.clone(), counter.clone());
            async move {
                // Spread over providers, with neighbours colliding now and then as two
                // schedulers picking the same best host would.
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let rp = &uuids[(n * 7919) % uuids.len().min(50)];
                let allocations = [(rp.clone(), [("VCPU".to_string(), 1)].into_iter().collect())].into_iter().collect();
                client.allocations_put(&common::ids::new_uuid(), &allocations, "bench", "bench", None, "INSTANCE").await.is_ok()
            }
        })
        .await;
        println!("{}", s.line("claims", c));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn nova_bench(b: NovaBench) -> Result<(), CliError> {
    let other = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let dir = fresh_dir(std::env::temp_dir().join(format!("ferrostack-bench-nova-{}", std::process::id())))?;
    let (trigger, shutdown) = common::server::Shutdown::new();
    let (ks_app, ks) = crate::cloud::ephemeral_keystone(&dir, "bench-pw", 4, shutdown.clone()).await?;
    let validator: std::sync::Arc<dyn auth::TokenValidator> = std::sync::Arc::new(keystone::validator::LocalValidator(ks_app.clone()));
    let cfg = common::config::Config::default();
    let papp = placement::open(placement::PlacementConfig::from_config(&cfg, &dir)?).await.map_err(|e| other(&e))?;
    let pl = crate::cloud::start_placement(papp, "127.0.0.1:0", validator.clone(), shutdown.clone()).await?;
    let gapp = glance::open(glance::GlanceConfig::from_config(&cfg, &dir)?).await.map_err(|e| other(&e))?;
    let gl = crate::cloud::start_glance(gapp, "127.0.0.1:0", validator.clone(), shutdown.clone()).await?;
    for (name, kind, url) in [("placement", "placement", &pl.url), ("glance", "image", &gl.url)] {
        ks_app.register_service(name, kind, name, "RegionOne", &[("public", url), ("internal", url), ("admin", url)]).await?;
    }
    ks_app.ensure_service_user("nova", "bench-nova-pw").await?;
    let mut ncfg = nova::NovaConfig::from_config(&cfg, &dir)?;
    for q in [&mut ncfg.quota.instances, &mut ncfg.quota.cores, &mut ncfg.quota.ram] {
        *q = -1;
    }
    let napp = nova::open(ncfg).await.map_err(|e| other(&e))?;
    let creds = nova::service_auth::ServiceCredentials {
        auth_url: format!("{}/v3", ks.url),
        username: "nova".into(),
        password: "bench-nova-pw".into(),
        project_name: "service".into(),
        user_domain_name: "Default".into(),
        project_domain_name: "Default".into(),
        region_name: Some("RegionOne".into()),
        interface: "public".into(),
        endpoint_overrides: Default::default(),
    };
    let hosts: Vec<nova::services::ComputeHost> = (0..b.hosts)
        .map(|n| {
            let host = format!("fake-{n:05}");
            let driver = nova::virt::fake::FakeDriver::new(nova::virt::fake::FakeConfig {
                hypervisor_hostname: host.clone(),
                vcpus: 64,
                memory_mb: 262_144,
                local_gb: 4096,
                op_delay: Duration::ZERO,
                fail_spawn: None,
                state_file: None,
            });
            nova::services::ComputeHost { host, driver: std::sync::Arc::new(driver) }
        })
        .collect();
    let t = Instant::now();
    nova::services::start(napp.clone(), std::sync::Arc::new(bus::InProcessBus::new()), std::sync::Arc::new(nova::service_auth::ServiceAuth::new(creds)), hosts).await.map_err(|e| other(&e))?;
    let registered = t.elapsed();
    let nv = crate::cloud::start_nova(napp.clone(), "127.0.0.1:0", validator, shutdown.clone()).await?;
    println!("Nova under test: {}  ({} fake hosts registered with Placement in {:.1} s)", nv.url, b.hosts, registered.as_secs_f64());

    let http = reqwest::Client::new();
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "bench-pw"}}}, "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let resp = http.post(format!("{}/v3/auth/tokens", ks.url)).json(&body).send().await.map_err(|e| other(&e))?;
    let token = resp.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let img: serde_json::Value = http.post(format!("{}/v2/images", gl.url)).header("x-auth-token", &token).json(&json!({"name": "bench", "disk_format": "raw", "container_format": "bare"})).send().await.map_err(|e| other(&e))?.json().await.map_err(|e| other(&e))?;
    let image = img["id"].as_str().unwrap_or_default().to_string();
    http.put(format!("{}/v2/images/{image}/file", gl.url)).header("x-auth-token", &token).header("content-type", "application/octet-stream").body(vec![0u8; 4096]).send().await.map_err(|e| other(&e))?;
    let flavor = json!({"flavor": {"name": "bench.tiny", "ram": 64, "vcpus": 1, "disk": 1, "id": "bench"}});
    http.post(format!("{}/v2.1/flavors", nv.url)).header("x-auth-token", &token).json(&flavor).send().await.map_err(|e| other(&e))?;

    let t = Instant::now();
    let batches = b.servers.div_ceil(b.batch.max(1));
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(b.concurrency.max(1)));
    let mut tasks = Vec::new();
    let mut api_latencies = Vec::new();
    for n in 0..batches {
        let count = b.batch.min(b.servers - n * b.batch);
        let (http, url, token, image, sem) = (http.clone(), nv.url.clone(), token.clone(), image.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let body = json!({"server": {"name": format!("b{n}"), "imageRef": image, "flavorRef": "bench", "networks": "none", "min_count": count, "max_count": count}});
            let started = Instant::now();
            let r = http.post(format!("{url}/v2.1/servers")).header("x-auth-token", token).header("openstack-api-version", "compute 2.37").json(&body).send().await;
            (r.map(|r| r.status().as_u16()).unwrap_or(0), started.elapsed())
        }));
    }
    let mut refused = 0;
    for task in tasks {
        let (status, took) = task.await.map_err(|e| other(&e))?;
        if status != 202 {
            refused += 1;
        }
        api_latencies.push(took);
    }
    let accepted = t.elapsed();
    let count = |state: &'static str| {
        let db = napp.db.clone();
        async move { db.fetch_optional("SELECT COUNT(*) AS n FROM instances WHERE deleted = 0 AND vm_state = ?", db::params![state]).await.ok().flatten().and_then(|r| r.i64("n").ok()).unwrap_or(0) }
    };
    let mut last_report = Instant::now();
    loop {
        let (active, error) = (count("active").await, count("error").await);
        if active + error >= b.servers as i64 {
            let all = t.elapsed();
            api_latencies.sort();
            let p = |q: f64| api_latencies.get(((api_latencies.len() as f64 - 1.0) * q).round() as usize).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0);
            println!("{} servers on {} hosts: all accepted in {:.1} s ({} requests of {}, p50 {:.0} ms, p99 {:.0} ms, {} refused); {active} ACTIVE, {error} ERROR after {:.1} s ({:.0} servers/s)", b.servers, b.hosts, accepted.as_secs_f64(), batches, b.batch, p(0.5), p(0.99), refused, all.as_secs_f64(), b.servers as f64 / all.as_secs_f64());
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!("  ... {active} ACTIVE, {error} ERROR after {:.0} s", t.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        if t.elapsed() > Duration::from_secs(1800) {
            println!("gave up after 30 minutes: {active} ACTIVE, {error} ERROR of {}", b.servers);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    trigger.trigger();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
