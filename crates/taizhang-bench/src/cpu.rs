//! CPU time as `/proc` counts it: the process's and the client's thread's, so that a
//! scenario whose client shares the process can tell what the servers spent; and the
//! context switches of all the process's threads.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

/// CPU time of the process and of the client's thread at one moment.
pub(crate) struct CpuMark {
    at: Instant,
    process: Duration,
    client: Duration,
    switches: u64,
}

impl CpuMark {
    /// Must be taken on the client's thread (the client runtime's one worker).
    pub(crate) fn now() -> Result<Self> {
        Ok(CpuMark {
            at: Instant::now(),
            process: cpu_time("/proc/self/stat")?,
            client: cpu_time("/proc/thread-self/stat")?,
            switches: context_switches()?,
        })
    }
}

/// CPU time and wall time summed over phases.
#[derive(Default)]
pub(crate) struct CpuUse {
    wall: Duration,
    process: Duration,
    client: Duration,
    switches: u64,
}

impl CpuUse {
    pub(crate) fn add(&mut self, since: &CpuMark) -> Result<()> {
        let now = CpuMark::now()?;
        self.wall += now.at - since.at;
        self.process += now.process.saturating_sub(since.process);
        self.client += now.client.saturating_sub(since.client);
        self.switches += now.switches.saturating_sub(since.switches);
        Ok(())
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.wall.as_secs_f64()
    }

    /// Context switches of all the process's threads (voluntary and not) per second.
    pub(crate) fn switches_per_second(&self) -> f64 {
        self.switches as f64 / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    pub(crate) fn machine_percent(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        100.0 * self.process.as_secs_f64() / (self.wall.as_secs_f64() * cores as f64)
    }

    /// The cores the servers kept busy on average: the process's CPU less the
    /// client's thread's, per second of wall time.
    pub(crate) fn server_cores(&self) -> f64 {
        self.server_time().as_secs_f64() / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The servers' CPU time: the process's less the client's thread's.
    pub(crate) fn server_time(&self) -> Duration {
        self.process.saturating_sub(self.client)
    }

    pub(crate) fn client_percent(&self) -> f64 {
        100.0 * self.client.as_secs_f64() / self.process.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// CPU time so far of the process's threads that are alive now, by thread name with
/// any trailing number left out (`sled-io-3` counts as `sled-io`).
pub(crate) fn by_thread() -> Result<std::collections::BTreeMap<String, Duration>> {
    let mut times = std::collections::BTreeMap::new();
    each_thread("stat", |stat| {
        let name = stat.split_once('(').and_then(|(_, rest)| rest.rsplit_once(')')).map_or("", |(name, _)| name);
        let kind = name.trim_end_matches(|c: char| c.is_ascii_digit()).trim_end_matches('-');
        *times.entry(kind.to_owned()).or_default() += stat_cpu_time(stat)?;
        Ok(())
    })?;
    Ok(times)
}

/// Context switches so far, summed over the process's threads that are alive now.
fn context_switches() -> Result<u64> {
    let mut total = 0;
    each_thread("status", |status| {
        for line in status.lines() {
            if let Some(count) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += count.trim().parse::<u64>()?;
            }
        }
        Ok(())
    })?;
    Ok(total)
}

/// Calls `read` with the text of `file` (in `/proc/self/task/<id>/`) of each of the
/// process's threads that are alive now.
fn each_thread(file: &str, mut read: impl FnMut(&str) -> Result<()>) -> Result<()> {
    for task in std::fs::read_dir("/proc/self/task")? {
        // A thread may end between the listing and the reading.
        let Ok(text) = std::fs::read_to_string(task?.path().join(file)) else { continue };
        read(&text)?;
    }
    Ok(())
}

/// User and system time from a `/proc/…/stat` file.
fn cpu_time(path: &str) -> Result<Duration> {
    stat_cpu_time(&std::fs::read_to_string(path)?)
}

/// User and system time in the text of a `stat` file. Its times are in clock ticks of
/// 100 per second: Linux fixes the unit it shows user space (`USER_HZ`) at 100.
fn stat_cpu_time(stat: &str) -> Result<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces and
    // parentheses: count the fields after its last `)`. utime and stime are fields 14
    // and 15.
    let after_name = stat.rsplit_once(')').context("no command name in stat")?.1;
    let mut fields = after_name.split_whitespace().skip(11);
    let mut ticks = || -> Result<u64> { Ok(fields.next().context("stat too short")?.parse()?) };
    let total = ticks()? + ticks()?;
    Ok(Duration::from_millis(total * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194304 1049 0 4 0 7823 1872 0 0 20 0 9 0 239686";
        assert_eq!(stat_cpu_time(stat).unwrap(), Duration::from_millis((7823 + 1872) * 10));
        assert!(stat_cpu_time("4242 (short) S 1 2").is_err());
        // On the real file the figure is this thread's CPU time: spinning moves it
        // (a wrong field, such as the page-fault counts beside it, would not).
        let before = cpu_time("/proc/thread-self/stat").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut spins = 0u64;
        while cpu_time("/proc/thread-self/stat").unwrap() < before + Duration::from_millis(50) {
            assert!(Instant::now() < deadline, "50 ms of spinning never showed in /proc/thread-self/stat");
            spins = std::hint::black_box(spins + 1);
        }
    }
}
