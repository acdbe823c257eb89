//! The memory budget: how much a job may allocate, checked before it allocates.
//!
//! Buffers whose size comes from the input (a raster's size, a batch, a checkpoint) are
//! checked against [`budget`] first, so an input too big for the machine is refused with a
//! clear message (exit 2) instead of ending in a failed allocation. The budget is three
//! quarters of the memory the process can still get: the least of the memory available
//! (`MemAvailable`), the cgroup's limit and the address-space limit (`ulimit -v`) less what
//! is mapped already. `SATCOLOR_MEMORY_BUDGET` (bytes, or with a K, M or G suffix) sets it.

use crate::Error;

/// The environment variable that sets the budget.
pub const BUDGET_VAR: &str = "SATCOLOR_MEMORY_BUDGET";

/// Bytes a job may allocate (see the module docs).
pub fn budget() -> u64 {
    if let Some(b) = std::env::var(BUDGET_VAR).ok().and_then(|v| parse_size(&v)) {
        return b;
    }
    let limits = [available(), cgroup_limit(), address_space_left()];
    let least = limits.into_iter().flatten().min().unwrap_or(8 << 30);
    least / 4 * 3
}

/// Checks that `bytes` fit the budget; else an [`Error::Input`] saying what needed how much.
pub fn check(what: &str, bytes: u64) -> Result<(), Error> {
    let budget = budget();
    if bytes <= budget {
        return Ok(());
    }
    Err(Error::Input(format!(
        "{what} needs {} of memory, more than the {} this process may use (set \
         {BUDGET_VAR} to change the budget)",
        human(bytes),
        human(budget)
    )))
}

/// The largest batch, at most `wanted`, whose memory `fixed + batch·per_item` (bytes) fits
/// the budget; 0 when not even one item fits.
pub fn fitting_batch(wanted: usize, fixed: u64, per_item: u64) -> usize {
    let room = budget().saturating_sub(fixed);
    let fits = room.checked_div(per_item).unwrap_or(u64::MAX);
    wanted.min(usize::try_from(fits).unwrap_or(usize::MAX))
}

/// `bytes` as `512 MiB`, `3.2 GiB` and the like.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..=0x3FF => format!("{bytes} B"),
        0x400..=0xF_FFFF => format!("{:.0} KiB", b / 1024.0),
        0x10_0000..=0x3FFF_FFFF => format!("{:.0} MiB", b / (1u64 << 20) as f64),
        _ => format!("{:.1} GiB", b / (1u64 << 30) as f64),
    }
}

/// `123`, `64K`, `512M`, `2G` (binary units) as bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, shift) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 10),
        'M' => (&s[..s.len() - 1], 20),
        'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// `MemAvailable` of /proc/meminfo.
fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&info, "MemAvailable:")
}

/// The memory limit of the process's cgroup (v2), when it has one.
fn cgroup_limit() -> Option<u64> {
    let v = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?;
    v.trim().parse().ok()
}

/// What `ulimit -v` still allows: the address-space limit less the mapped size.
fn address_space_left() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mapped = kib_field(&status, "VmSize:").unwrap_or(0);
    Some(lim.rlim_cur.saturating_sub(mapped))
}

/// A `Name:   123 kB` line of a /proc file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size(" 2G "), Some(2 << 30));
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn sizes_print_in_the_largest_whole_unit() {
        assert_eq!(human(1000), "1000 B");
        assert_eq!(human(2048), "2 KiB");
        assert_eq!(human(300 << 20), "300 MiB");
        assert_eq!(human(3 << 30 | 1 << 29), "3.5 GiB");
    }

    #[test]
    fn the_budget_is_positive_and_refuses_what_exceeds_it() {
        let b = budget();
        assert!(b > 0);
        assert!(check("a small buffer", 1).is_ok());
        let err = check("a huge buffer", u64::MAX).unwrap_err().to_string();
        assert!(
            err.contains("a huge buffer needs") && err.contains(BUDGET_VAR),
            "{err}"
        );
    }
}
