//! Lambda's CPU per memory size, emulated with a cgroup v1 CPU quota.
//!
//! Lambda gives a function CPU in proportion to its memory: at 1,769 MB one vCPU-second per
//! second (AWS Lambda Developer Guide, "Configuring Lambda function memory"), so a 128 MB
//! function gets about 7.2 % of a core. During init it gets burst CPU ("up to 10 seconds for
//! function initialization with burst CPU", AWS Lambda Web Adapter documentation, "Async
//! Initialization"). So here init runs unthrottled and invocations run in a cgroup whose CFS
//! quota is `period × memory / 1,769` over a 20 ms period ([`PERIOD_US`]). Where no such
//! cgroup can be made (not root, no cgroup v1 `cpu` controller), nothing is throttled and the
//! report says the numbers are full-core ones.

use std::io;
use std::path::{Path, PathBuf};

/// The memory size at which Lambda gives one full vCPU.
pub(crate) const FULL_VCPU_MB: u64 = 1769;

/// The CFS period, in µs: 20 ms, the interval over which Lambda was observed to enforce the
/// share ("it appears, through observation, that the throttling interval is actually 20 ms":
/// a function that uses its share early in the 20 ms pauses until they end; GitHub,
/// pwrdrvr/lambda-dispatch, issue 246). AWS does not document it; the kernel's default,
/// 100 ms, would make each pause up to five times longer.
pub(crate) const PERIOD_US: u64 = 20_000;

/// The smallest quota the kernel accepts, in µs.
const MIN_QUOTA_US: u64 = 1_000;

/// Where the cgroup v1 `cpu` controller is mounted.
const CPU_CONTROLLER: &str = "/sys/fs/cgroup/cpu";

/// The CFS quota, in µs per [`PERIOD_US`], of a function with `memory_mb`: its share of one
/// vCPU (more than one period above 1,769 MB).
pub(crate) fn quota_us(memory_mb: u32) -> u64 {
    (PERIOD_US * u64::from(memory_mb) / FULL_VCPU_MB).max(MIN_QUOTA_US)
}

/// How invocations were given CPU in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CpuMode {
    /// Each function's share of a vCPU for its memory size; init unthrottled.
    LambdaShare,
    /// This machine's full cores, because the share was not asked for.
    FullCore,
    /// This machine's full cores, because the share could not be set up (why).
    FullCoreFallback(String),
}

impl CpuMode {
    /// The mode a run gets: the share when asked for and the cgroup controller is writable.
    pub(crate) fn choose(wanted: bool) -> Self {
        if !wanted {
            return Self::FullCore;
        }
        match CpuShare::create(Path::new(CPU_CONTROLLER), "probe", 128) {
            Ok(_) => Self::LambdaShare,
            Err(e) => Self::FullCoreFallback(format!("no cgroup under {CPU_CONTROLLER}: {e}")),
        }
    }

    /// A cgroup for a function of `memory_mb` in this mode (`None`: run unthrottled).
    pub(crate) fn share(&self, label: &str, memory_mb: u32) -> anyhow::Result<Option<CpuShare>> {
        match self {
            Self::LambdaShare => Ok(Some(CpuShare::create(
                Path::new(CPU_CONTROLLER),
                label,
                memory_mb,
            )?)),
            Self::FullCore | Self::FullCoreFallback(_) => Ok(None),
        }
    }
}

/// A cgroup with the CPU quota of one memory size; removed when dropped (its processes must
/// have exited by then).
#[derive(Debug)]
pub(crate) struct CpuShare {
    dir: PathBuf,
}

impl CpuShare {
    /// Makes the cgroup `<controller>/device-sessions-bench-<pid>-<label>` with the quota of
    /// `memory_mb`.
    pub(crate) fn create(controller: &Path, label: &str, memory_mb: u32) -> io::Result<Self> {
        let name = format!("device-sessions-bench-{}-{label}", std::process::id());
        let dir = controller.join(name);
        std::fs::create_dir(&dir)?;
        let share = Self { dir };
        share.set("cpu.cfs_period_us", PERIOD_US)?;
        share.set("cpu.cfs_quota_us", quota_us(memory_mb))?;
        Ok(share)
    }

    fn set(&self, file: &str, value: u64) -> io::Result<()> {
        std::fs::write(self.dir.join(file), value.to_string())
    }

    /// Moves process `pid` (and so every thread of it) into the cgroup.
    pub(crate) fn add(&self, pid: u32) -> io::Result<()> {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        // On cgroupfs the control files go with the directory; in a plain directory (tests)
        // they are files to remove first.
        if std::fs::remove_dir(&self.dir).is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_is_the_memory_sizes_share_of_a_vcpu() {
        assert_eq!(quota_us(1769), PERIOD_US);
        assert_eq!(quota_us(128), 1_447);
        assert_eq!(quota_us(1024), 11_577);
        assert_eq!(quota_us(3538), 2 * PERIOD_US);
        assert_eq!(quota_us(1), MIN_QUOTA_US);
    }

    #[test]
    fn a_share_writes_its_period_quota_and_processes_and_is_removed() {
        let controller =
            std::env::temp_dir().join(format!("cpu-share-test-{}", std::process::id()));
        std::fs::create_dir_all(&controller).unwrap();
        let share = CpuShare::create(&controller, "unit", 256).unwrap();
        let read = |f: &str| std::fs::read_to_string(share.dir.join(f)).unwrap();
        assert_eq!(read("cpu.cfs_period_us"), "20000");
        assert_eq!(read("cpu.cfs_quota_us"), "2894");
        share.add(4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        let dir = share.dir.clone();
        drop(share);
        assert!(!dir.exists());
        std::fs::remove_dir(&controller).unwrap();
    }

    /// Against the real controller where this process may write it (root on cgroup v1): the
    /// kernel takes the quota and the process; skipped, with a line saying so, elsewhere.
    #[test]
    fn the_kernel_takes_the_quota_and_the_process() {
        let Ok(share) = CpuShare::create(Path::new(CPU_CONTROLLER), "kernel", 128) else {
            eprintln!("skipped: {CPU_CONTROLLER} is not writable here");
            return;
        };
        let read = |f: &str| std::fs::read_to_string(share.dir.join(f)).unwrap();
        assert_eq!(read("cpu.cfs_quota_us").trim(), "1447");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        share.add(child.id()).unwrap();
        let listed = read("cgroup.procs");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(listed.trim(), child.id().to_string());
    }
}
