//! Verify + normalize, fixture by fixture: the best time of several rounds, the heap allocations one delivery
//! makes, the expected status, and the mean over all POST fixtures (the figure the criterion benchmark gives
//! for the whole set). Where the criterion line says how much, this says where.
//!
//!     cargo run --release -p shared --example fixture_costs [-- <rounds> <deliveries per round>]
//!
//! With one round it also serves instruction counts, which do not drift with a shared machine's speed:
//!     valgrind --tool=cachegrind --cache-sim=no target/release/examples/fixture_costs 1 3000
//! (valgrind does not run SHA-NI, so software SHA-256 inflates those counts; compare like with like.)

#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The system allocator, counting allocations (and reallocations) to show what a delivery costs the heap.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u32>().expect("a whole number"));
    let rounds = args.next().unwrap_or(5).max(1);
    let per_round = args.next().unwrap_or(100_000).max(1);
    let every = fixtures::fixture_deliveries();
    let mut total_ns = 0.0;
    println!(
        "{:>9} {:>7} {:>6} {:>6}  fixture",
        "best ns", "allocs", "status", "bytes"
    );
    for (provider, delivery, expected) in &every {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let status = fixtures::status(provider.as_ref(), delivery);
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(status, *expected, "{} {}", provider.id(), delivery.body.len());
        let best = (0..rounds)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..per_round {
                    black_box(fixtures::status(provider.as_ref(), black_box(delivery)));
                }
                start.elapsed().as_nanos() as f64 / f64::from(per_round)
            })
            .fold(f64::MAX, f64::min);
        total_ns += best;
        println!(
            "{best:>9.0} {allocations:>7} {status:>6} {:>6}  {}/{}",
            delivery.body.len(),
            provider.id(),
            delivery.request_id.as_deref().unwrap_or("?")
        );
    }
    println!(
        "mean of the best times over {} POST fixtures: {:.0} ns per delivery",
        every.len(),
        total_ns / every.len() as f64
    );
}
