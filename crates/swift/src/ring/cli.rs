//! The `swift-ring-builder` command, as swift/cli/ringbuilder.py, as a function a binary can
//! call: [`run`] takes the arguments after the program name and returns what the command prints.
//!
//! ```text
//! <builder_file>                                      show the builder (also: `list`)
//! <builder_file> create <part_power> <replicas> <min_part_hours>
//! <builder_file> add [r<region>]z<zone>-<ip>:<port>[R<r_ip>:<r_port>]/<device>[_<meta>] <weight> ...
//! <builder_file> add --region <r> --zone <z> --ip <ip> --port <p> --device <name> --weight <w>
//!                    [--replication-ip <ip>] [--replication-port <p>] [--meta <meta>] [--id <id>]
//! <builder_file> search <search-value> | --region ... --zone ... (any device options)
//! <builder_file> set_weight <search-value> <weight> ... [--yes] | <device options> <weight> [--yes]
//! <builder_file> set_region <search-value> <region> ... [--yes]
//! <builder_file> set_zone <search-value> <zone> ... [--yes]
//! <builder_file> remove <search-value> ... [--yes] | <device options> [--yes]
//! <builder_file> rebalance [<seed>] [--seed <seed>] [--force]
//! <builder_file> validate
//! <builder_file> write_ring
//! <builder_file> dispersion [--verbose]
//! <builder_file> set_min_part_hours <hours>
//! <builder_file> set_replicas <replicas>
//! <builder_file> set_overload <overload>[%]
//! <builder_file> pretend_min_part_hours_passed
//! ```
//!
//! As upstream, `<builder_file>` may also be given as the ring file (`object.ring.gz`) or without
//! extension (`object`); the ring file is the builder file's name with `.ring.gz` for `.builder`.
//! Changes save the builder file; `create`, `rebalance` and `write_ring` also keep copies under
//! `backups/` beside it.
//!
//! Differences from upstream: there is no interactive prompt — a search matching several devices
//! needs `--yes`, or nothing changes; upstream's status 1 ("done, with warnings") is
//! [`ExitStatus::Warning`] and its status 2 is an `Err`; only ring format version 1 is written.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};

use super::builder::{RingBuilder, MAX_BALANCE};
use super::device::{
    bracket_ipv6, is_valid_device_name, normalize_address, AddValue, Device, DeviceSearch,
    NewDevice,
};
use super::ring::RingData;
use super::RingError;

/// How a command that did its work ended (upstream's exit status 0 or 1; status 2 is an `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exit status 0.
    Success,
    /// Exit status 1: done, but read the output (e.g. nothing could be reassigned).
    Warning,
}

impl ExitStatus {
    /// The process exit code upstream uses.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Warning => 1,
        }
    }
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliOutput {
    pub output: String,
    pub status: ExitStatus,
}

/// The exit code for an error (upstream's `EXIT_ERROR`).
pub const EXIT_ERROR: i32 = 2;

/// Runs `swift-ring-builder` with `args` (without the program name: `args[0]` is the builder
/// file) and returns what it prints.
pub fn run(args: &[String]) -> Result<String, RingError> {
    run_with_status(args).map(|outcome| outcome.output)
}

/// As [`run`], also telling whether the command ended with a warning.
pub fn run_with_status(args: &[String]) -> Result<CliOutput, RingError> {
    let Some(first) = args.first() else {
        return Ok(CliOutput {
            output: format!("{GENERAL_USAGE}\n"),
            status: ExitStatus::Success,
        });
    };
    let (builder_file, ring_file) = builder_and_ring_files(first);
    let command = args.get(1).map(String::as_str).unwrap_or("default");
    let mut out = String::new();
    if builder_file != Path::new(first) {
        say(
            &mut out,
            format!(
                "Note: using {} instead of {first} as builder file",
                builder_file.display()
            ),
        );
    }
    let builder = match RingBuilder::load(&builder_file) {
        Ok(builder) => Some(builder),
        Err(RingError::BuilderFileNotFound(_)) if command == "create" => None,
        Err(err) => return Err(err),
    };
    let mut cli = Cli {
        builder_file,
        ring_file,
        builder,
        args: args.get(2..).unwrap_or_default().to_vec(),
        out,
        status: ExitStatus::Success,
    };
    match command {
        "create" => cli.create()?,
        "default" | "list" => cli.show()?,
        "search" => cli.search()?,
        "add" => cli.add()?,
        "set_weight" => cli.set_weight()?,
        "set_region" => cli.set_region_or_zone(true)?,
        "set_zone" => cli.set_region_or_zone(false)?,
        "remove" => cli.remove()?,
        "rebalance" => cli.rebalance()?,
        "validate" => cli.validate()?,
        "write_ring" => cli.write_ring()?,
        "dispersion" => cli.dispersion()?,
        "set_min_part_hours" => cli.set_min_part_hours()?,
        "set_replicas" => cli.set_replicas()?,
        "set_overload" => cli.set_overload()?,
        "pretend_min_part_hours_passed" => cli.pretend_min_part_hours_passed()?,
        other => {
            return Err(RingError::Usage(format!(
                "Unknown command: {other}\n\n{GENERAL_USAGE}"
            )))
        }
    }
    Ok(CliOutput {
        output: cli.out,
        status: cli.status,
    })
}

const GENERAL_USAGE: &str = "\
swift-ring-builder <builder_file> [command] [args]
    Commands: add create default dispersion list pretend_min_part_hours_passed rebalance remove
              search set_min_part_hours set_overload set_region set_replicas set_weight set_zone
              validate write_ring
    Exit codes: 0 = operation successful
                1 = operation completed with warnings
                2 = error";

const CREATE_USAGE: &str = "\
swift-ring-builder <builder_file> create <part_power> <replicas> <min_part_hours>
    Creates <builder_file> with 2^<part_power> partitions and <replicas>.
    <min_part_hours> is number of hours to restrict moving a partition more
    than once.";

const ADD_USAGE: &str = "\
swift-ring-builder <builder_file> add
    [r<region>]z<zone>-<ip>:<port>[R<r_ip>:<r_port>]/<device_name>_<meta> <weight>
    [[r<region>]z<zone>-<ip>:<port>[R<r_ip>:<r_port>]/<device_name>_<meta> <weight>] ...
or
swift-ring-builder <builder_file> add
    --region <region> --zone <zone> --ip <ip or hostname> --port <port>
    [--replication-ip <r_ip or r_hostname>] [--replication-port <r_port>]
    --device <device_name> --weight <weight> [--meta <meta>]
    Adds devices to the ring. They get partitions at the next rebalance.";

const SEARCH_USAGE: &str = "\
swift-ring-builder <builder_file> search <search-value>
or
swift-ring-builder <builder_file> search
    --region <region> --zone <zone> --ip <ip or hostname> --port <port>
    --replication-ip <r_ip or r_hostname> --replication-port <r_port>
    --device <device_name> --meta <meta> --weight <weight>
    Shows the matching devices. <search-value> is
    d<id>r<region>z<zone>-<ip>:<port>R<r_ip>:<r_port>/<device_name>_<meta>,
    every part optional: d74, z1, r1z1-127.0.0.1:6200/sdb1, :6200, /sdb1, _meta";

const SET_WEIGHT_USAGE: &str = "\
swift-ring-builder <builder_file> set_weight <search-value> <new_weight>
    [<search-value> <new_weight>] ... [--yes]
or
swift-ring-builder <builder_file> set_weight <device options> <new_weight> [--yes]
    Sets the weight of the matching devices; partitions move at the next rebalance.
    --yes is needed when a search matches more than one device.";

const SET_REGION_USAGE: &str = "\
swift-ring-builder <builder_file> set_region <search-value> <region> ... [--yes]
or
swift-ring-builder <builder_file> set_region <device options> <new region> [--yes]
    Moves the matching devices to another region; partitions move at the next rebalance.";

const SET_ZONE_USAGE: &str = "\
swift-ring-builder <builder_file> set_zone <search-value> <zone> ... [--yes]
or
swift-ring-builder <builder_file> set_zone <device options> <new zone> [--yes]
    Moves the matching devices to another zone; partitions move at the next rebalance.";

const REMOVE_USAGE: &str = "\
swift-ring-builder <builder_file> remove <search-value> [search-value ...] [--yes]
or
swift-ring-builder <builder_file> remove <device options> [--yes]
    Marks the devices for removal: their partitions move and they leave the ring at the next
    rebalance. For a device to decommission, set its weight to 0 and let it drain first.";

const REBALANCE_USAGE: &str = "\
swift-ring-builder <builder_file> rebalance [<seed>] [--seed <seed>] [--force]
    Reassigns partitions that have not been reassigned recently, then writes the builder and the
    ring file.";

const SIMPLE_USAGE: &str = "\
swift-ring-builder <builder_file> set_min_part_hours <hours>
swift-ring-builder <builder_file> set_replicas <replicas>
swift-ring-builder <builder_file> set_overload <overload>[%]";

/// The builder file and ring file for the first argument, as upstream's
/// `parse_builder_ring_filename_args`.
pub fn builder_and_ring_files(first: &str) -> (PathBuf, PathBuf) {
    if let Some(stem) = first.strip_suffix(".ring.gz") {
        (
            PathBuf::from(format!("{stem}.builder")),
            PathBuf::from(first),
        )
    } else if let Some(stem) = first.strip_suffix(".builder") {
        (
            PathBuf::from(first),
            PathBuf::from(format!("{stem}.ring.gz")),
        )
    } else {
        (
            PathBuf::from(first),
            PathBuf::from(format!("{first}.ring.gz")),
        )
    }
}

fn say(out: &mut String, line: impl AsRef<str>) {
    out.push_str(line.as_ref());
    out.push('\n');
}

struct Cli {
    builder_file: PathBuf,
    ring_file: PathBuf,
    builder: Option<RingBuilder>,
    /// The arguments after the command.
    args: Vec<String>,
    out: String,
    status: ExitStatus,
}

impl Cli {
    fn say(&mut self, line: impl AsRef<str>) {
        say(&mut self.out, line);
    }

    fn builder(&mut self) -> Result<&mut RingBuilder, RingError> {
        let path = self.builder_file.clone();
        self.builder
            .as_mut()
            .ok_or(RingError::BuilderFileNotFound(path))
    }

    fn save_builder(&mut self) -> Result<(), RingError> {
        let path = self.builder_file.clone();
        self.builder()?.save(path)
    }

    fn backup_path(&self, file: &Path) -> Result<PathBuf, RingError> {
        let dir = match self.builder_file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join("backups"),
            _ => PathBuf::from("backups"),
        };
        fs::create_dir_all(&dir).map_err(|source| RingError::io("create", &dir, source))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(dir.join(format!("{secs}.{name}")))
    }

    // ---- create ----

    fn create(&mut self) -> Result<(), RingError> {
        let [part_power, replicas, min_part_hours, ..] = self.args.as_slice() else {
            return Err(RingError::Usage(CREATE_USAGE.to_string()));
        };
        let part_power = parse_int::<u32>(part_power)?;
        let replicas = parse_float(replicas)?;
        let min_part_hours = parse_int::<u32>(min_part_hours)?;
        let mut builder = RingBuilder::new(part_power, replicas, min_part_hours)?;
        let backup = self.backup_path(&self.builder_file)?;
        builder.save(&backup)?;
        builder.save(&self.builder_file)?;
        self.builder = Some(builder);
        Ok(())
    }

    // ---- default / list ----

    fn show(&mut self) -> Result<(), RingError> {
        let builder_file = self.builder_file.display().to_string();
        let ring_file = self.ring_file.clone();
        let builder = self.builder()?.clone();
        let mut out = String::new();
        say(
            &mut out,
            format!(
                "{builder_file}, build version {}, id {}",
                builder.version(),
                builder.id().unwrap_or("(not assigned)")
            ),
        );
        let regions: HashSet<u32> = builder.iter_devs().map(|dev| dev.region).collect();
        let zones: HashSet<(u32, u32)> = builder
            .iter_devs()
            .map(|dev| (dev.region, dev.zone))
            .collect();
        let (balance, empty_ring_error) = match builder.get_balance() {
            Ok(balance) => (balance, None),
            Err(err @ RingError::EmptyRing) => (0.0, Some(err.to_string())),
            Err(err) => return Err(err),
        };
        let dispersion = builder
            .dispersion()
            .map(|d| format!(", {d:.2} dispersion"))
            .unwrap_or_default();
        say(
            &mut out,
            format!(
                "{} partitions, {:.6} replicas, {} regions, {} zones, {} devices, 2-byte IDs, {balance:.2} balance{dispersion}",
                builder.parts(),
                builder.replicas(),
                regions.len(),
                zones.len(),
                builder.iter_devs().count(),
            ),
        );
        say(
            &mut out,
            format!(
                "The minimum number of hours before a partition can be reassigned is {} ({} remaining)",
                builder.min_part_hours(),
                format_timedelta(builder.min_part_seconds_left())
            ),
        );
        say(
            &mut out,
            format!(
                "The overload factor is {:.2}% ({:.6})",
                builder.overload() * 100.0,
                builder.overload()
            ),
        );
        let ring_name = ring_file.display();
        if !ring_file.exists() {
            say(
                &mut out,
                format!("Ring file {ring_name} not found, probably it hasn't been written yet"),
            );
        } else {
            match RingData::load(&ring_file) {
                Ok(ring) if ring == builder.get_ring() => {
                    say(&mut out, format!("Ring file {ring_name} is up-to-date"))
                }
                Ok(_) => say(&mut out, format!("Ring file {ring_name} is obsolete")),
                Err(err) => say(&mut out, format!("Ring file {ring_name} is invalid: {err}")),
            }
        }
        let balances = if empty_ring_error.is_some() {
            HashMap::new()
        } else {
            builder.balance_per_dev()?
        };
        out.push_str(&device_table(&builder, &balances));
        if let Some(message) = empty_ring_error {
            say(&mut out, message);
        }
        self.out.push_str(&out);
        Ok(())
    }

    // ---- search ----

    fn search(&mut self) -> Result<(), RingError> {
        let options = Options::parse(&self.args, DEVICE_OPTIONS)?;
        let search = match options.positional.as_slice() {
            [] if options.is_new_format() => options.device_search()?,
            [value] if !options.is_new_format() => DeviceSearch::parse(value)?,
            _ => return Err(RingError::Usage(SEARCH_USAGE.to_string())),
        };
        let builder = self.builder()?.clone();
        let devs = builder.search_devs(&search);
        if devs.is_empty() {
            return Err(RingError::Command("No matching devices found".to_string()));
        }
        let balances = builder.balance_per_dev().unwrap_or_default();
        let mut out = String::from(
            "Devices:    id  region  zone      ip address  port  replication ip  replication port      name weight partitions balance meta\n",
        );
        for dev in devs {
            say(
                &mut out,
                format!(
                    "         {:5} {:7} {:5} {:>15} {:5} {:>15} {:17} {:>9} {:6.2} {:>10} {:7.2} {}",
                    dev.id,
                    dev.region,
                    dev.zone,
                    dev.ip,
                    dev.port,
                    dev.replication_ip,
                    dev.replication_port,
                    dev.device,
                    dev.weight,
                    builder.dev_parts(dev.id),
                    balances.get(&dev.id).copied().unwrap_or(0.0),
                    dev.meta
                ),
            );
        }
        self.out.push_str(&out);
        Ok(())
    }

    // ---- add ----

    fn add(&mut self) -> Result<(), RingError> {
        let options = Options::parse(&self.args, DEVICE_OPTIONS)?;
        if self.builder()?.next_part_power().is_some() {
            return Err(RingError::Command(
                "Partition power increase in progress. You need \nto finish the increase first before adding devices."
                    .to_string(),
            ));
        }
        let mut new_devs = Vec::new();
        if options.positional.is_empty() {
            new_devs.push(options.new_device()?);
        } else {
            if options.is_new_format() || options.positional.len() % 2 != 0 {
                return Err(RingError::Usage(ADD_USAGE.to_string()));
            }
            for pair in options.positional.chunks_exact(2) {
                let (value, weight) = (&pair[0], &pair[1]);
                let add = AddValue::parse(value)?;
                let region = match add.region {
                    Some(region) => region,
                    None => {
                        self.say(format!(
                            "WARNING: No region specified for {value}. Defaulting to region 1.\n"
                        ));
                        1
                    }
                };
                let weight = parse_float(weight)?;
                if weight < 0.0 {
                    return Err(RingError::InvalidValue(format!(
                        "Invalid weight value: {value}"
                    )));
                }
                new_devs.push(NewDevice {
                    id: None,
                    region,
                    zone: add.zone,
                    ip: add.ip,
                    port: add.port,
                    replication_ip: add.replication_ip,
                    replication_port: add.replication_port,
                    device: add.device,
                    weight,
                    meta: add.meta,
                });
            }
        }
        let unchanged = |err: RingError| {
            RingError::Command(format!("{err}\nThe on-disk ring builder is unchanged."))
        };
        for new in new_devs {
            let builder = self.builder()?;
            if let Some(existing) = builder
                .iter_devs()
                .find(|dev| dev.ip == new.ip && dev.port == new.port && dev.device == new.device)
            {
                return Err(RingError::Command(format!(
                    "Device {} already uses {}:{}/{}.\nThe on-disk ring builder is unchanged.\n",
                    existing.id, existing.ip, existing.port, existing.device
                )));
            }
            let weight = new.weight;
            let id = builder.add_dev(new).map_err(unchanged)?;
            let shown = builder
                .dev(id)
                .map(Device::display_name)
                .unwrap_or_default();
            self.say(format!(
                "Device {shown} with {} weight got id {id}",
                py_float(weight)
            ));
        }
        self.save_builder()
    }

    // ---- set_weight / set_region / set_zone ----

    /// The devices and new values of `set_weight`-style commands (`<search> <value>` pairs, or
    /// device options and one value), and whether `--yes` was given.
    fn searches_and_values(
        &mut self,
        usage: &str,
    ) -> Result<(Vec<DevicesAndValue>, bool), RingError> {
        let options = Options::parse(&self.args, DEVICE_OPTIONS)?;
        let builder = self.builder()?;
        let mut changes = Vec::new();
        if options.is_new_format() {
            let [value] = options.positional.as_slice() else {
                return Err(RingError::Usage(usage.to_string()));
            };
            let search = options.device_search()?;
            changes.push((
                builder.search_devs(&search).into_iter().cloned().collect(),
                value.clone(),
            ));
        } else {
            if options.positional.is_empty() || options.positional.len() % 2 != 0 {
                return Err(RingError::Usage(usage.to_string()));
            }
            for pair in options.positional.chunks_exact(2) {
                let search = DeviceSearch::parse(&pair[0])?;
                changes.push((
                    builder.search_devs(&search).into_iter().cloned().collect(),
                    pair[1].clone(),
                ));
            }
        }
        Ok((changes, options.flag("yes")))
    }

    fn set_weight(&mut self) -> Result<(), RingError> {
        let (changes, yes) = self.searches_and_values(SET_WEIGHT_USAGE)?;
        for (devs, weight) in changes {
            check_devs(&devs, yes, "update the weight for")?;
            let weight = parse_float(&weight)?;
            for dev in devs {
                self.builder()?.set_dev_weight(dev.id, weight)?;
                self.say(format!(
                    "{} weight set to {}",
                    dev.display_name(),
                    py_float(weight)
                ));
            }
        }
        self.save_builder()
    }

    fn set_region_or_zone(&mut self, region: bool) -> Result<(), RingError> {
        let (usage, what) = if region {
            (SET_REGION_USAGE, "region")
        } else {
            (SET_ZONE_USAGE, "zone")
        };
        let (changes, yes) = self.searches_and_values(usage)?;
        for (devs, value) in changes {
            check_devs(&devs, yes, &format!("update the {what} for"))?;
            let value = parse_int::<u32>(&value)?;
            for dev in devs {
                let builder = self.builder()?;
                if region {
                    builder.set_dev_region(dev.id, value)?;
                } else {
                    builder.set_dev_zone(dev.id, value)?;
                }
                self.say(format!("{} {what} set to {value}", dev.display_name()));
            }
        }
        self.save_builder()
    }

    // ---- remove ----

    fn remove(&mut self) -> Result<(), RingError> {
        let options = Options::parse(&self.args, DEVICE_OPTIONS)?;
        let builder = self.builder()?;
        if builder.next_part_power().is_some() {
            return Err(RingError::Command(
                "Partition power increase in progress. You need \nto finish the increase first before removing devices."
                    .to_string(),
            ));
        }
        let mut devs: Vec<Device> = Vec::new();
        if options.positional.is_empty() {
            if !options.is_new_format() {
                return Err(RingError::Usage(REMOVE_USAGE.to_string()));
            }
            devs.extend(
                builder
                    .search_devs(&options.device_search()?)
                    .into_iter()
                    .cloned(),
            );
        } else {
            if options.is_new_format() {
                return Err(RingError::Usage(REMOVE_USAGE.to_string()));
            }
            for value in &options.positional {
                devs.extend(
                    builder
                        .search_devs(&DeviceSearch::parse(value)?)
                        .into_iter()
                        .cloned(),
                );
            }
        }
        check_devs(&devs, options.flag("yes"), "remove")?;
        for dev in devs {
            self.builder()?.remove_dev(dev.id)?;
            self.say(format!(
                "{} marked for removal and will be removed next rebalance.",
                dev.display_name()
            ));
        }
        self.save_builder()
    }

    // ---- rebalance ----

    fn rebalance(&mut self) -> Result<(), RingError> {
        let options = Options::parse(&self.args, REBALANCE_OPTIONS)?;
        if let Some(version) = options.value("format-version") {
            if version != "1" {
                return Err(RingError::Usage(format!(
                    "ring format version {version} is not supported: only version 1 is written\n\n{REBALANCE_USAGE}"
                )));
            }
        }
        let seed = options
            .value("seed")
            .or(options.positional.first().map(String::as_str))
            .map(seed_from);
        let force = options.flag("force");
        let builder = self.builder()?;
        if builder.next_part_power().is_some() {
            return Err(RingError::Command(
                "Partition power increase in progress.\nYou need to finish the increase first before rebalancing."
                    .to_string(),
            ));
        }
        let devs_changed = builder.devs_changed();
        let min_part_seconds_left = builder.min_part_seconds_left();
        let validation_failed = |err: RingError| {
            RingError::Command(format!(
                "{line}\nAn error has occurred during ring validation. Common\ncauses of failure are rings that are \
                 empty or do not\nhave enough devices to accommodate the replica count.\nOriginal exception \
                 message:\n {err}\n{line}",
                line = "-".repeat(79)
            ))
        };
        let last_balance = builder.get_balance().map_err(validation_failed)?;
        let last_dispersion = builder.dispersion();
        let result = builder.rebalance(seed).map_err(validation_failed)?;
        if result.changed_parts == 0 && !force && result.removed_devices == 0 {
            self.status = ExitStatus::Warning;
            self.say("No partitions could be reassigned.");
            let builder = self.builder()?;
            let (hours, left) = (builder.min_part_hours(), builder.min_part_seconds_left());
            if min_part_seconds_left > 0 {
                self.say(format!(
                    "The time between rebalances must be at least min_part_hours: {hours} hours ({} remaining)",
                    format_timedelta(left)
                ));
            } else {
                self.say("There is no need to do so at this time");
            }
            return Ok(());
        }
        let balance_changed = (last_balance - result.balance).abs() >= 1.0
            || (last_balance == MAX_BALANCE && result.balance == MAX_BALANCE);
        let dispersion_changed =
            last_dispersion.is_none_or(|last| (last - result.dispersion).abs() >= 1.0);
        if !(force || devs_changed || balance_changed || dispersion_changed) {
            self.status = ExitStatus::Warning;
            self.say("Cowardly refusing to save rebalance as it did not change at least 1%.");
            return Ok(());
        }
        let builder = self.builder()?;
        builder.validate().map_err(validation_failed)?;
        let parts = builder.parts();
        let (min_part_hours, overload) = (builder.min_part_hours(), builder.overload());
        self.say(format!(
            "Reassigned {} ({:.2}%) partitions. Balance is now {:.2}.  Dispersion is now {:.2}",
            result.changed_parts,
            100.0 * result.changed_parts as f64 / parts as f64,
            result.balance,
            result.dispersion
        ));
        let line = "-".repeat(79);
        if result.dispersion > 0.0 {
            self.say(&line);
            self.say(format!(
                "NOTE: Dispersion of {:.6} indicates some parts are not\n      optimally dispersed.\n\n      You may \
                 want to adjust some device weights, increase\n      the overload or review the dispersion report.",
                result.dispersion
            ));
            self.say(&line);
            self.status = ExitStatus::Warning;
        } else if result.balance > 5.0 && result.balance / 100.0 > overload {
            self.say(&line);
            self.say(format!(
                "NOTE: Balance of {:.2} indicates you should push this ",
                result.balance
            ));
            self.say(format!(
                "      ring, wait at least {min_part_hours} hours, and rebalance/repush."
            ));
            self.say(&line);
            self.status = ExitStatus::Warning;
        }
        self.write_ring_and_builder()
    }

    /// Saves backups of the ring and builder, then the ring file and the builder file.
    fn write_ring_and_builder(&mut self) -> Result<(), RingError> {
        let ring_backup = self.backup_path(&self.ring_file)?;
        let builder_backup = self.backup_path(&self.builder_file)?;
        let ring_file = self.ring_file.clone();
        let builder_file = self.builder_file.clone();
        let builder = self.builder()?;
        let ring = builder.get_ring();
        ring.save(&ring_backup)?;
        builder.save(&builder_backup)?;
        ring.save(&ring_file)?;
        builder.save(&builder_file)
    }

    // ---- validate / write_ring / dispersion ----

    fn validate(&mut self) -> Result<(), RingError> {
        self.builder()?.validate()
    }

    fn write_ring(&mut self) -> Result<(), RingError> {
        let options = Options::parse(&self.args, REBALANCE_OPTIONS)?;
        if options
            .value("format-version")
            .is_some_and(|version| version != "1")
        {
            return Err(RingError::Usage(
                "only ring format version 1 is written".to_string(),
            ));
        }
        let builder = self.builder()?;
        if builder.iter_devs().next().is_none() {
            return Err(RingError::Command(
                "Unable to write empty ring.".to_string(),
            ));
        }
        let ring = builder.get_ring();
        if ring.replica2part2dev_id.is_empty() {
            self.say(
                "WARNING: Writing a ring with no partition assignments but with devices; did you forget to run \
                 \"rebalance\"?",
            );
        }
        let backup = self.backup_path(&self.ring_file)?;
        ring.save(backup)?;
        ring.save(&self.ring_file)
    }

    fn dispersion(&mut self) -> Result<(), RingError> {
        let options = Options::parse(&self.args, DISPERSION_OPTIONS)?;
        let builder = self.builder()?.clone();
        if !builder.ever_rebalanced() {
            return Err(RingError::Command(format!(
                "Specified builder file \"{}\" is not rebalanced yet. Please rebalance first.",
                self.builder_file.display()
            )));
        }
        let report = builder.dispersion_report()?;
        self.say(format!(
            "Dispersion is {:.6}, Balance is {:.6}, Overload is {:.2}%",
            report.dispersion,
            builder.get_balance()?,
            builder.overload() * 100.0
        ));
        self.say(format!(
            "Required overload is {:.6}%",
            builder.get_required_overload()? * 100.0
        ));
        if let Some((value, tier)) = &report.worst_tier {
            self.status = ExitStatus::Warning;
            self.say(format!("Worst tier is {value:.6} ({tier})"));
        }
        if options.flag("verbose") {
            let columns = builder.replicas().ceil() as usize + 1;
            let width = builder.parts().to_string().len().max(5);
            let tier_width = report
                .tiers
                .iter()
                .map(|tier| tier.name.len())
                .max()
                .unwrap_or(0)
                .max(30);
            let counts: Vec<String> = (0..columns).map(|n| format!("{n:>width$}")).collect();
            let header = format!(
                "{:<tier_width$} {:>width$} {:>6} {:>6} {}",
                "Tier",
                "Parts",
                "%",
                "Max",
                counts.join(" ")
            );
            let underline = "-".repeat(header.len());
            self.say(&underline);
            self.say(&header);
            self.say(&underline);
            for tier in &report.tiers {
                let counts: Vec<String> = tier
                    .replicas
                    .iter()
                    .map(|n| format!("{n:>width$}"))
                    .collect();
                self.say(format!(
                    "{:<tier_width$} {:>width$} {:6.2} {:6} {}",
                    tier.name,
                    tier.placed_parts,
                    tier.dispersion,
                    tier.max_replicas,
                    counts.join(" ")
                ));
            }
        }
        Ok(())
    }

    // ---- settings ----

    fn set_min_part_hours(&mut self) -> Result<(), RingError> {
        let value = self
            .args
            .first()
            .cloned()
            .ok_or_else(|| RingError::Usage(SIMPLE_USAGE.to_string()))?;
        let hours = parse_int::<u32>(&value)?;
        self.builder()?.change_min_part_hours(hours);
        self.say(format!("The minimum number of hours before a partition can be reassigned is now set to {value}"));
        self.save_builder()
    }

    fn set_replicas(&mut self) -> Result<(), RingError> {
        let value = self
            .args
            .first()
            .cloned()
            .ok_or_else(|| RingError::Usage(SIMPLE_USAGE.to_string()))?;
        let replicas = value.trim().parse::<f64>().map_err(|_| {
            RingError::Usage(format!(
                "{SIMPLE_USAGE}\n\"{value}\" is not a valid number."
            ))
        })?;
        if replicas < 1.0 {
            return Err(RingError::InvalidValue(
                "Replica count must be at least 1.".to_string(),
            ));
        }
        let builder = self.builder()?;
        builder.set_replicas(replicas)?;
        let replicas = builder.replicas();
        self.say(format!("The replica count is now {replicas:.6}."));
        self.say("The change will take effect after the next rebalance.");
        self.save_builder()
    }

    fn set_overload(&mut self) -> Result<(), RingError> {
        let value = self
            .args
            .first()
            .cloned()
            .ok_or_else(|| RingError::Usage(SIMPLE_USAGE.to_string()))?;
        let (number, percent) = match value.strip_suffix('%') {
            Some(number) => (number, true),
            None => (value.as_str(), false),
        };
        let mut overload = number.trim().parse::<f64>().map_err(|_| {
            RingError::Usage(format!("{SIMPLE_USAGE}\n{number:?} is not a valid number."))
        })?;
        if percent {
            overload *= 0.01;
        }
        if overload < 0.0 {
            return Err(RingError::InvalidValue(
                "Overload must be non-negative.".to_string(),
            ));
        }
        if overload > 1.0 && !percent {
            self.say("!?! Warning overload is greater than 100% !?!");
            self.status = ExitStatus::Warning;
        }
        self.builder()?.set_overload(overload)?;
        self.say(format!(
            "The overload factor is now {:.2}% ({overload:.6})",
            overload * 100.0
        ));
        self.say("The change will take effect after the next rebalance.");
        self.save_builder()
    }

    fn pretend_min_part_hours_passed(&mut self) -> Result<(), RingError> {
        self.builder()?.pretend_min_part_hours_passed();
        self.save_builder()
    }
}

/// The devices one search matched and the value to give them.
type DevicesAndValue = (Vec<Device>, String);

/// A search must match something, and more than one device only with `--yes`.
fn check_devs(devs: &[Device], yes: bool, action: &str) -> Result<(), RingError> {
    if devs.is_empty() {
        return Err(RingError::Command(
            "Search value matched 0 devices.\nThe on-disk ring builder is unchanged.".to_string(),
        ));
    }
    if devs.len() > 1 && !yes {
        let mut message = String::from("Matched more than one device:\n");
        for dev in devs {
            say(&mut message, format!("    {}", dev.display_name()));
        }
        message.push_str(&format!(
            "Refusing to {action} these {} devices without --yes.\nThe on-disk ring builder is unchanged.",
            devs.len()
        ));
        return Err(RingError::Command(message));
    }
    Ok(())
}

/// The device table of the builder summary, as upstream lays it out.
fn device_table(builder: &RingBuilder, balances: &HashMap<u32, f64>) -> String {
    let mut ip_width = 10;
    let mut port_width = 4;
    let mut rep_ip_width = 14;
    let mut rep_port_width = 4;
    let mut weight_width = 6;
    let (mut ip_v6, mut rep_v6) = (false, false);
    for dev in builder.iter_devs() {
        ip_v6 |= dev.ip.contains(':');
        rep_v6 |= dev.replication_ip.contains(':');
        ip_width = ip_width.max(dev.ip.len());
        rep_ip_width = rep_ip_width.max(dev.replication_ip.len());
        port_width = port_width.max(dev.port.to_string().len());
        rep_port_width = rep_port_width.max(dev.replication_port.to_string().len());
        weight_width = weight_width.max(format!("{:6.2}", dev.weight).len());
    }
    if ip_v6 {
        ip_width += 2;
    }
    if rep_v6 {
        rep_ip_width += 2;
    }
    let mut out = String::new();
    say(
        &mut out,
        format!(
            "Devices:{:>5} {:>6} {:>4} {:>ip_width$}:{:<port_width$} {:>rep_ip_width$}:{:<rep_port_width$} {:>5} {:>weight_width$} {:>10} {:>7} {:>5} {}",
            "id", "region", "zone", "ip address", "port", "replication ip", "port", "name", "weight", "partitions", "balance", "flags", "meta"
        ),
    );
    let mut devs: Vec<&Device> = builder.iter_devs().collect();
    devs.sort_by(|a, b| {
        (a.region, a.zone, &a.ip, &a.device).cmp(&(b.region, b.zone, &b.ip, &b.device))
    });
    for dev in devs {
        let flags = if builder.is_marked_for_removal(dev.id) {
            "DEL"
        } else {
            ""
        };
        say(
            &mut out,
            format!(
                "{:13} {:6} {:4} {:>ip_width$}:{:<port_width$} {:>rep_ip_width$}:{:<rep_port_width$} {:>5} {:weight_width$.2} {:>10} {:7.2} {:>5} {}",
                dev.id,
                dev.region,
                dev.zone,
                bracket_ipv6(&dev.ip),
                dev.port,
                bracket_ipv6(&dev.replication_ip),
                dev.replication_port,
                dev.device,
                dev.weight,
                builder.dev_parts(dev.id),
                balances.get(&dev.id).copied().unwrap_or(0.0),
                flags,
                dev.meta
            ),
        );
    }
    out
}

/// Python's `str(timedelta(seconds=n))`: `H:MM:SS`, with `N day(s), ` before it past a day.
fn format_timedelta(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        days => format!("{days} days, {clock}"),
    }
}

/// Python's `str(float)` for the values the CLI shows: `100.0`, `0.5`.
fn py_float(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

fn parse_int<T: std::str::FromStr>(value: &str) -> Result<T, RingError> {
    value.trim().parse::<T>().map_err(|_| {
        RingError::InvalidValue(format!("invalid literal for int() with base 10: {value:?}"))
    })
}

fn parse_float(value: &str) -> Result<f64, RingError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
        .ok_or_else(|| {
            RingError::InvalidValue(format!("could not convert string to float: {value:?}"))
        })
}

/// A rebalance seed from the command line: a number, or any text hashed to one.
fn seed_from(value: &str) -> u64 {
    value.parse::<u64>().unwrap_or_else(|_| {
        let digest = Md5::digest(value.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(bytes)
    })
}

// ---- options, as upstream's optparse set-up ----

struct OptionSpec {
    short: Option<char>,
    long: &'static str,
    takes_value: bool,
}

const fn opt(short: char, long: &'static str) -> OptionSpec {
    OptionSpec {
        short: Some(short),
        long,
        takes_value: true,
    }
}

const fn flag(short: char, long: &'static str) -> OptionSpec {
    OptionSpec {
        short: Some(short),
        long,
        takes_value: false,
    }
}

const DEVICE_OPTIONS: &[OptionSpec] = &[
    opt('u', "id"),
    opt('r', "region"),
    opt('z', "zone"),
    opt('i', "ip"),
    opt('p', "port"),
    opt('j', "replication-ip"),
    opt('q', "replication-port"),
    opt('d', "device"),
    opt('w', "weight"),
    opt('m', "meta"),
    flag('y', "yes"),
];

const REBALANCE_OPTIONS: &[OptionSpec] = &[
    flag('f', "force"),
    opt('s', "seed"),
    flag('d', "debug"),
    OptionSpec {
        short: None,
        long: "format-version",
        takes_value: true,
    },
];

const DISPERSION_OPTIONS: &[OptionSpec] = &[
    flag('v', "verbose"),
    OptionSpec {
        short: None,
        long: "recalculate",
        takes_value: false,
    },
];

struct Options {
    values: HashMap<&'static str, String>,
    flags: HashSet<&'static str>,
    positional: Vec<String>,
}

impl Options {
    fn parse(args: &[String], specs: &'static [OptionSpec]) -> Result<Options, RingError> {
        let mut options = Options {
            values: HashMap::new(),
            flags: HashSet::new(),
            positional: Vec::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                options.positional.extend(args.by_ref().cloned());
                break;
            }
            let (spec, inline) = if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((name, value)) => (name, Some(value.to_string())),
                    None => (long, None),
                };
                let spec = specs.iter().find(|spec| spec.long == name);
                (
                    spec.ok_or_else(|| RingError::Usage(format!("no such option: --{name}")))?,
                    inline,
                )
            } else if arg.len() > 1 && arg.starts_with('-') {
                let mut chars = arg[1..].chars();
                let short = chars.next();
                let spec = specs.iter().find(|spec| spec.short == short);
                let rest: String = chars.collect();
                (
                    spec.ok_or_else(|| RingError::Usage(format!("no such option: {arg}")))?,
                    (!rest.is_empty()).then_some(rest),
                )
            } else {
                options.positional.push(arg.clone());
                continue;
            };
            if spec.takes_value {
                let value = match inline {
                    Some(value) => value,
                    None => args.next().cloned().ok_or_else(|| {
                        RingError::Usage(format!("--{} option requires an argument", spec.long))
                    })?,
                };
                options.values.insert(spec.long, value);
            } else {
                options.flags.insert(spec.long);
            }
        }
        Ok(options)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.contains(name)
    }

    fn int<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, RingError> {
        self.value(name)
            .map(|value| {
                value.trim().parse::<T>().map_err(|_| {
                    RingError::Usage(format!("option --{name}: invalid integer value: {value:?}"))
                })
            })
            .transpose()
    }

    fn float(&self, name: &str) -> Result<Option<f64>, RingError> {
        self.value(name).map(parse_float).transpose()
    }

    /// Whether device options were used rather than a search or add value (upstream's
    /// `validate_args`): ids, regions, zones and weights count even when 0, the rest when not
    /// empty.
    fn is_new_format(&self) -> bool {
        ["id", "region", "zone", "weight"]
            .iter()
            .any(|name| self.values.contains_key(name))
            || [
                "ip",
                "port",
                "replication-ip",
                "replication-port",
                "device",
                "meta",
            ]
            .iter()
            .any(|name| {
                self.value(name)
                    .is_some_and(|value| !value.is_empty() && value != "0")
            })
    }

    fn device_search(&self) -> Result<DeviceSearch, RingError> {
        let address = |name: &str| {
            self.value(name)
                .filter(|value| !value.is_empty())
                .map(normalize_address)
                .transpose()
        };
        Ok(DeviceSearch {
            id: self.int("id")?,
            region: self.int("region")?,
            zone: self.int("zone")?,
            ip: address("ip")?,
            port: self.int("port")?,
            replication_ip: address("replication-ip")?,
            replication_port: self.int("replication-port")?,
            device: self.value("device").map(str::to_string),
            weight: self.float("weight")?,
            meta: self
                .value("meta")
                .filter(|meta| !meta.is_empty())
                .map(str::to_string),
        })
    }

    /// A device from `--region --zone --ip --port --device --weight` (upstream's
    /// `build_dev_from_opts`).
    fn new_device(&self) -> Result<NewDevice, RingError> {
        for (name, short) in [
            ("region", 'r'),
            ("zone", 'z'),
            ("ip", 'i'),
            ("port", 'p'),
            ("device", 'd'),
            ("weight", 'w'),
        ] {
            if self.value(name).is_none() {
                return Err(RingError::InvalidValue(format!(
                    "Required argument -{short}/--{name} not specified."
                )));
            }
        }
        let ip = normalize_address(self.value("ip").unwrap_or_default())?;
        let replication_ip = match self
            .value("replication-ip")
            .filter(|value| !value.is_empty())
        {
            Some(value) => normalize_address(value)?,
            None => ip.clone(),
        };
        let port = self.int::<u16>("port")?.unwrap_or_default();
        let device = self.value("device").unwrap_or_default().to_string();
        if !is_valid_device_name(&device) {
            return Err(RingError::InvalidValue("Invalid device name".to_string()));
        }
        let weight = self.float("weight")?.unwrap_or_default();
        if weight < 0.0 {
            return Err(RingError::InvalidValue(format!(
                "Invalid weight value: {weight}"
            )));
        }
        Ok(NewDevice {
            id: self.int("id")?,
            region: self.int("region")?.unwrap_or_default(),
            zone: self.int("zone")?.unwrap_or_default(),
            ip,
            port,
            replication_ip: Some(replication_ip),
            replication_port: Some(
                self.int::<u16>("replication-port")?
                    .filter(|&p| p != 0)
                    .unwrap_or(port),
            ),
            device,
            weight,
            meta: self.value("meta").unwrap_or_default().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::{HashPathConfig, Ring};
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("swift-ring-cli-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str) -> String {
            self.0.join(name).display().to_string()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn cli(args: &[&str]) -> Result<CliOutput, RingError> {
        run_with_status(&args.iter().map(|arg| arg.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn create_add_rebalance_list_end_to_end() {
        let dir = TempDir::new("e2e");
        let builder = dir.file("object.builder");
        let b = builder.as_str();
        assert_eq!(cli(&[b, "create", "10", "3", "1"]).unwrap().output, "");
        assert!(Path::new(&builder).exists());

        let out = cli(&[
            b,
            "add",
            "r1z1-127.0.0.1:6200/sdb1",
            "100",
            "r1z1-127.0.0.1:6200/sdb2",
            "100",
        ])
        .unwrap();
        assert_eq!(
            out.output,
            "Device d0r1z1-127.0.0.1:6200R127.0.0.1:6200/sdb1_\"\" with 100.0 weight got id 0\n\
             Device d1r1z1-127.0.0.1:6200R127.0.0.1:6200/sdb2_\"\" with 100.0 weight got id 1\n"
        );
        let out = cli(&[b, "add", "z2-127.0.0.2:6200R10.0.0.2:6300/sdb1_fast", "100"]).unwrap();
        assert!(
            out.output.starts_with("WARNING: No region specified"),
            "{}",
            out.output
        );
        assert!(out.output.contains(
            "d2r1z2-127.0.0.2:6200R10.0.0.2:6300/sdb1_\"fast\" with 100.0 weight got id 2"
        ));
        let flags = [
            "--region",
            "1",
            "--zone",
            "2",
            "--ip",
            "127.0.0.2",
            "--port",
            "6200",
            "--device",
            "sdb2",
            "--weight",
            "100",
        ];
        let mut args = vec![b, "add"];
        args.extend(flags);
        assert!(cli(&args).unwrap().output.contains("got id 3"));
        // The same ip, port and device again is refused and changes nothing.
        let err = cli(&args).unwrap_err();
        assert!(
            err.to_string()
                .contains("Device 3 already uses 127.0.0.2:6200/sdb2."),
            "{err}"
        );
        assert!(cli(&[
            b,
            "add",
            "r1z3-127.0.0.3:6200/sdb1",
            "100",
            "r1z3-127.0.0.3:6200/sdb2",
            "100"
        ])
        .is_ok());

        let out = cli(&[b]).unwrap();
        assert!(
            out.output
                .contains("1024 partitions, 3.000000 replicas, 1 regions, 3 zones, 6 devices"),
            "{}",
            out.output
        );
        assert!(out.output.contains("Ring file "), "{}", out.output);
        assert!(out.output.contains("hasn't been written yet"));

        let out = cli(&[b, "rebalance", "7"]).unwrap();
        assert_eq!(out.status, ExitStatus::Success, "{}", out.output);
        assert_eq!(
            out.output,
            "Reassigned 3072 (300.00%) partitions. Balance is now 0.00.  Dispersion is now 0.00\n"
        );
        let ring_file = dir.file("object.ring.gz");
        let ring = Ring::load(&ring_file, HashPathConfig::new("", "changeme").unwrap()).unwrap();
        assert_eq!(ring.partition_count(), 1024);
        assert_eq!(ring.device_count(), 6);
        let backups: Vec<String> = fs::read_dir(dir.0.join("backups"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            backups.iter().any(|name| name.ends_with(".object.ring.gz")),
            "{backups:?}"
        );
        assert!(
            backups.iter().any(|name| name.ends_with(".object.builder")),
            "{backups:?}"
        );

        let out = cli(&[b, "list"]).unwrap();
        let lines: Vec<&str> = out.output.lines().collect();
        assert!(
            lines[0].starts_with(&format!("{builder}, build version 7, id ")),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("1024 partitions, 3.000000 replicas, 1 regions, 3 zones, 6 devices, 2-byte IDs, 0.00 balance, 0.00 dispersion"), "{}", lines[1]);
        // The clock ticks between the rebalance and the listing: on a loaded machine a second
        // may already have passed.
        assert!(
            ["1:00:00", "0:59:59", "0:59:58"].iter().any(|r| lines[2] == format!("The minimum number of hours before a partition can be reassigned is 1 ({r} remaining)")),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "The overload factor is 0.00% (0.000000)");
        assert!(lines[4].ends_with("is up-to-date"), "{}", lines[4]);
        assert_eq!(
            lines[5],
            "Devices:   id region zone ip address:port replication ip:port  name weight partitions balance flags meta"
        );
        assert_eq!(
            lines[8],
            "            2      1    2  127.0.0.2:6200       10.0.0.2:6300  sdb1 100.00        512    0.00       fast"
        );
        assert_eq!(lines.len(), 12);
        assert_eq!(cli(&[b]).unwrap().output, out.output, "list is the default");

        // Nothing may move again within min_part_hours.
        let out = cli(&[b, "rebalance"]).unwrap();
        assert_eq!(out.status, ExitStatus::Warning);
        assert!(
            out.output
                .starts_with("No partitions could be reassigned.\nThe time between rebalances"),
            "{}",
            out.output
        );

        assert_eq!(cli(&[b, "validate"]).unwrap().output, "");
        let search = cli(&[b, "search", "z2"]).unwrap().output;
        assert_eq!(search.lines().count(), 3, "{search}");
        assert!(cli(&[b, "search", "z9"]).is_err());
    }

    #[test]
    fn set_weight_remove_and_write_ring() {
        let dir = TempDir::new("change");
        let builder = dir.file("account.builder");
        let b = builder.as_str();
        cli(&[b, "create", "8", "3", "0"]).unwrap();
        for zone in 1..=4 {
            let value = format!("r1z{zone}-10.0.0.{zone}:6202/sdb");
            cli(&[b, "add", &value, "100"]).unwrap();
        }
        cli(&[b, "rebalance", "--seed", "3"]).unwrap();

        // A search matching several devices needs --yes.
        let err = cli(&[b, "set_weight", "r1", "50"]).unwrap_err();
        assert!(
            err.to_string().starts_with("Matched more than one device:"),
            "{err}"
        );
        let out = cli(&[b, "set_weight", "d1", "50"]).unwrap();
        assert_eq!(
            out.output,
            "d1r1z2-10.0.0.2:6202R10.0.0.2:6202/sdb_\"\" weight set to 50.0\n"
        );
        let out = cli(&[b, "set_weight", "--zone", "3", "150", "--yes"]).unwrap();
        assert!(out.output.contains("weight set to 150.0"));
        let loaded = RingBuilder::load(&builder).unwrap();
        assert_eq!(loaded.dev(1).unwrap().weight, 50.0);
        assert_eq!(loaded.dev(2).unwrap().weight, 150.0);
        let err = cli(&[b, "set_weight", "d9", "50"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Search value matched 0 devices.\nThe on-disk ring builder is unchanged."
        );

        let out = cli(&[b, "remove", "r1z4-10.0.0.4:6202/sdb"]).unwrap();
        assert_eq!(out.output, "d3r1z4-10.0.0.4:6202R10.0.0.4:6202/sdb_\"\" marked for removal and will be removed next rebalance.\n");
        let listing = cli(&[b]).unwrap().output;
        assert!(listing.contains("is obsolete"), "{listing}");
        assert!(
            listing.lines().any(|line| line.contains(" DEL ")),
            "{listing}"
        );
        let out = cli(&[b, "rebalance", "5"]).unwrap();
        assert!(out.output.starts_with("Reassigned "), "{}", out.output);
        let loaded = RingBuilder::load(&builder).unwrap();
        assert!(loaded.dev(3).is_none());
        loaded.validate().unwrap();

        let ring_file = dir.file("account.ring.gz");
        fs::remove_file(&ring_file).unwrap();
        assert_eq!(cli(&[b, "write_ring"]).unwrap().output, "");
        assert_eq!(RingData::load(&ring_file).unwrap(), loaded.get_ring());
        // The ring file's name finds the builder too.
        let out = cli(&[ring_file.as_str(), "validate"]).unwrap();
        assert!(out.output.starts_with("Note: using "), "{}", out.output);

        let out = cli(&[b, "set_min_part_hours", "2"]).unwrap();
        assert_eq!(
            out.output,
            "The minimum number of hours before a partition can be reassigned is now set to 2\n"
        );
        let out = cli(&[b, "set_overload", "10%"]).unwrap();
        assert!(
            out.output
                .starts_with("The overload factor is now 10.00% (0.100000)"),
            "{}",
            out.output
        );
        assert_eq!(RingBuilder::load(&builder).unwrap().overload(), 0.1);
        let out = cli(&[b, "dispersion", "-v"]).unwrap();
        assert!(out.output.starts_with("Dispersion is "), "{}", out.output);
    }

    #[test]
    fn errors_and_usage() {
        let dir = TempDir::new("errors");
        let builder = dir.file("container.builder");
        let b = builder.as_str();
        assert!(matches!(cli(&[b]), Err(RingError::BuilderFileNotFound(_))));
        assert!(matches!(
            cli(&[b, "create", "10", "3"]),
            Err(RingError::Usage(_))
        ));
        assert!(matches!(
            cli(&[b, "create", "ten", "3", "1"]),
            Err(RingError::InvalidValue(_))
        ));
        cli(&[b, "create", "6", "3", "1"]).unwrap();
        assert!(matches!(cli(&[b, "bogus"]), Err(RingError::Usage(_))));
        assert!(matches!(
            cli(&[b, "add", "r1z1-127.0.0.1:6200/sdb"]),
            Err(RingError::Usage(_))
        ));
        assert!(matches!(
            cli(&[b, "add", "--region", "1", "--zone", "1"]),
            Err(RingError::InvalidValue(_))
        ));
        assert!(matches!(
            cli(&[b, "add", "--bogus", "1"]),
            Err(RingError::Usage(_))
        ));
        cli(&[b, "add", "r1z1-127.0.0.1:6200/sdb", "100"]).unwrap();
        let err = cli(&[b, "rebalance"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("Replica count of 3 requires more than 1 devices"),
            "{err}"
        );
        assert!(cli(&[b, "validate"]).is_err());
        assert!(run(&[])
            .unwrap()
            .starts_with("swift-ring-builder <builder_file>"));
        assert_eq!(format_timedelta(3600), "1:00:00");
        assert_eq!(format_timedelta(90061), "1 day, 1:01:01");
        assert_eq!(format_timedelta(2 * 86400 + 59), "2 days, 0:00:59");
        assert_eq!(py_float(100.0), "100.0");
        assert_eq!(py_float(0.25), "0.25");
    }
}
