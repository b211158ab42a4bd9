//! Arbitrary strings as `/chosen/bootargs`. `parse` must return Ok or Err,
//! never panic, and be consistent with itself:
//! - parsing is deterministic (same input, same result);
//! - an accepted line's foreign words are exactly its words the stage does
//!   not own, in order, and re-parsing them alone gives the defaults and the
//!   same words back (idempotence);
//! - re-parsing only the stage-owned words gives the same settings and no
//!   foreign words;
//! - a rejected line's error names a `key=value` word of the line, and
//!   formatting it never panics (it cuts long values on a char boundary).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmu_reloc::bootargs::{self, BootArgs};

fuzz_target!(|line: &str| {
    let first = bootargs::parse(line);
    assert_eq!(first, bootargs::parse(line), "parse is deterministic");
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    for w in &words {
        if let Some((_, v)) = w.split_once('=') {
            let _ = (bootargs::parse_u64(v), bootargs::parse_size(v));
        }
    }
    match first {
        Ok(p) => {
            let foreign_line = p.foreign.join(" ");
            let again = bootargs::parse(&foreign_line).expect("foreign words parse");
            assert_eq!(again.args, BootArgs::default());
            assert_eq!(again.foreign, p.foreign);

            let owned: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| !p.foreign.contains(w))
                .collect();
            let owned_line = owned.join(" ");
            let again = bootargs::parse(&owned_line).expect("owned words parse");
            assert_eq!(again.args, p.args);
            assert!(again.foreign.is_empty(), "{:?}", again.foreign);

            // Every accepted size-like setting obeys its documented limit.
            let a = &p.args;
            assert!(a.size > 0 && a.size % 4096 == 0);
            assert!((1..=4096).contains(&a.segments));
            assert!((1..=1000).contains(&a.trials));
            assert!(a.leaf.is_none_or(|l| l.is_power_of_two() && l >= 4096));
            assert!(a.dest.is_none_or(|d| d % 4096 == 0));
        }
        Err(e) => {
            let word = format!("{}={}", e.key, e.value);
            assert!(words.contains(&word.as_str()), "{word:?} not a word");
            let msg = e.to_string();
            assert!(msg.contains(e.key));
        }
    }
});
