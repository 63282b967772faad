//! The multi-run engine `celluler attack` and `celluler sweep` share:
//! seeds from the command line, a worker pool, jobs run in order with the
//! results put back in job order (so outputs never depend on `--threads`),
//! and a progress bar over runs.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Outcome;

/// Seeds run when `--seeds` is not given: this many from the scenario's.
pub const DEFAULT_SEEDS: u64 = 8;

/// The most seeds one command runs .
pub const SEEDS_MAX: u64 = 10_000;

/// The most worker threads.
pub const THREADS_MAX: usize = 1_024;

/// What `--seeds` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeds {
    /// This many, from the scenario's seed.
    Count(u64),
    /// `start..end`, end excluded.
    Range(u64, u64),
}

pub fn parse_seeds(text: &str) -> Result<Seeds, String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|_| format!("{part:?} is not a seed (a non-negative integer); use N or A..B"))
    };
    let seeds = match text.split_once("..") {
        Some((start, end)) => {
            let (start, end) = (number(start)?, number(end)?);
            if start >= end {
                return Err(format!(
                    "the range {start}..{end} is empty (A..B runs A up to B, B excluded)"
                ));
            }
            Seeds::Range(start, end)
        }
        None => {
            let count = number(text)?;
            if count == 0 {
                return Err("at least one seed is needed".to_string());
            }
            Seeds::Count(count)
        }
    };
    let count = match seeds {
        Seeds::Count(count) => count,
        Seeds::Range(start, end) => end - start,
    };
    if count > SEEDS_MAX {
        return Err(format!(
            "{count} seeds asked for; a command runs at most {SEEDS_MAX}"
        ));
    }
    Ok(seeds)
}

/// The seeds to run, ascending.
pub fn seed_list(seeds: Option<Seeds>, scenario_seed: u64) -> Result<Vec<u64>, String> {
    let (start, end) = match seeds.unwrap_or(Seeds::Count(DEFAULT_SEEDS)) {
        Seeds::Count(count) => (
            scenario_seed,
            scenario_seed.checked_add(count).ok_or_else(|| {
                format!("--seeds {count} from the scenario's seed {scenario_seed} overflows u64")
            })?,
        ),
        Seeds::Range(start, end) => (start, end),
    };
    Ok((start..end).collect())
}

/// A pool of `threads` workers (default: every core), each running one
/// single-threaded deterministic run at a time.
pub fn pool(
    threads: Option<usize>,
    name: &'static str,
) -> Result<(rayon::ThreadPool, usize), Outcome> {
    let threads = match threads {
        Some(0) => {
            return Err(Outcome::BadInput(
                "--threads 0: at least one thread".to_string(),
            ));
        }
        Some(threads) if threads > THREADS_MAX => {
            return Err(Outcome::BadInput(format!(
                "--threads {threads}: at most {THREADS_MAX}"
            )));
        }
        Some(threads) => threads,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |index| format!("{name}-{index}"))
        .build()
        .map_err(|error| Outcome::BadInput(format!("cannot start {threads} threads: {error}")))?;
    Ok((pool, threads))
}

/// Runs every job on the pool, each worker taking the next job in order as
/// it becomes free (so the long jobs listed first start first), and returns
/// the results in job order. After a job fails no new job starts; those
/// not started are `None`.
pub fn run_jobs<J, R, F>(
    pool: &rayon::ThreadPool,
    jobs: &[J],
    work: F,
) -> Vec<Option<Result<R, String>>>
where
    J: Copy + Sync,
    R: Send,
    F: Fn(J) -> Result<R, String> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R, String>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    pool.scope(|scope| {
        for _ in 0..pool.current_num_threads().min(jobs.len()) {
            scope.spawn(|_| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&job) = jobs.get(index) else { break };
                    let result = work(job);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[index].lock().expect("a worker panicked") = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().expect("a worker panicked"))
        .collect()
}

pub fn progress_bar(runs: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(runs), ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs, ETA {eta}  {msg}",
        )
        .expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_a_count_or_a_half_open_range() {
        assert_eq!(parse_seeds("20"), Ok(Seeds::Count(20)));
        assert_eq!(parse_seeds("100..120"), Ok(Seeds::Range(100, 120)));
        for bad in ["0", "5..5", "9..3", "x", "1..", "-3", "1..20000"] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
        assert_eq!(seed_list(None, 7).unwrap(), (7..15).collect::<Vec<_>>());
        assert_eq!(seed_list(Some(Seeds::Range(3, 5)), 7).unwrap(), vec![3, 4]);
        assert!(seed_list(Some(Seeds::Count(2)), u64::MAX).is_err());
    }
}
