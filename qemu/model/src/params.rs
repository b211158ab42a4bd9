//! Every parameter of the model in one place, with where its value comes
//! from. Geometry comes from the cores' Technical Reference Manuals; costs
//! from datasheets or published measurements, or are marked as assumptions.
//! Everything here can be overridden with a plugin argument `name=value`.

use std::fmt::Write;

/// Sizes a TLB level can hold, as a bit mask of log2(bytes).
pub type SizeMask = u64;

pub const fn sizes(log2: &[u32]) -> SizeMask {
    let mut m = 0;
    let mut i = 0;
    while i < log2.len() {
        m |= 1 << log2[i];
        i += 1;
    }
    m
}

/// The largest size in `mask` that is at most `leaf` bytes (a leaf larger
/// than every size a level holds is split into pieces of its largest size).
pub fn piece(mask: SizeMask, leaf: u64) -> Option<u64> {
    (0..64u32)
        .rev()
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| 1u64 << b)
        .find(|s| *s <= leaf)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub preset: &'static str,
    // -- TLBs
    pub l1_tlb_entries: u32,
    pub l1_tlb_sizes: SizeMask,
    pub l2_tlb_entries: u32,
    pub l2_tlb_ways: u32,
    pub l2_tlb_sizes: SizeMask,
    // -- caches (physically indexed, LRU, write-back, write-allocate)
    pub line_bytes: u64,
    pub l1d_bytes: u64,
    pub l1d_ways: u32,
    pub l2_bytes: u64,
    pub l2_ways: u32,
    // -- stream prefetcher (ascending streams, trained on L1D misses)
    pub pf_streams: u32,
    pub pf_train: u32,
    pub pf_degree: u32,
    /// Prefetches stop at this physical boundary (0: no boundary).
    pub pf_page_bytes: u64,
    /// Load streams: 0 on physical lines, stopping at `pf_page_bytes`
    /// (an A72 with CPUACTLR_EL1[43] set); 1 on virtual lines, crossing
    /// into a page whose translation a TLB holds; 2 the same, walking for
    /// it (A72 TRM 6.4.9 says VA prefetch crosses pages, not how).
    pub pf_cross: u32,
    // -- costs
    pub freq_mhz: f64,
    pub cpi: f64,
    pub l2_hit_cycles: f64,
    pub mem_ns: f64,
    pub device_ns: f64,
    pub dram_gbs: f64,
    pub l2_tlb_hit_cycles: f64,
    /// 1: with SCTLR.I = 0 each fetch redirect (a translation block
    /// executed) costs a memory round trip; 0: instruction side free.
    pub ifetch_uncached: f64,
    /// 1: the fetch unit runs ahead of execution, so the uncached-fetch
    /// term overlaps everything else (cycles = max(fetch, the rest));
    /// 0: it adds to the rest (no overlap).
    pub fetch_overlap: u32,
    /// Demand load misses in L2 that can be outstanding together: a miss
    /// within `mlp_window` instructions of the first of a group, while the
    /// group has fewer than `mlp`, pays no latency of its own (bandwidth
    /// only). 1: every miss pays its latency. Walk reads never overlap.
    pub mlp: u32,
    pub mlp_window: u64,
}

const K4: u32 = 12;
const K16: u32 = 14;
const K64: u32 = 16;
const M1: u32 = 20;
const M2: u32 = 21;
const M16: u32 = 24;
const M32: u32 = 25;
const M512: u32 = 29;
const G1: u32 = 30;

impl Params {
    /// Cortex-A72 as on the Raspberry Pi 4 (BCM2711).
    pub fn a72() -> Params {
        Params {
            preset: "a72",
            // Cortex-A72 TRM (ARM 100095), "L1 data TLB": 32 entries, fully
            // associative, 4KB, 64KB and 1MB pages; larger blocks are held
            // as 1MB pieces.
            l1_tlb_entries: 32,
            l1_tlb_sizes: sizes(&[K4, K64, M1]),
            // Cortex-A72 TRM, "L2 TLB": 1024 entries, 4-way, unified; 4KB,
            // 64KB, 1MB, 16MB, and with LPAE/AArch64 2MB, 512MB, 1GB.
            l2_tlb_entries: 1024,
            l2_tlb_ways: 4,
            l2_tlb_sizes: sizes(&[K4, K64, M1, M2, M16, M512, G1]),
            // Cortex-A72 TRM, "L1 data memory system": 32KB, 2-way, 64-byte
            // lines. L2: 16-way, 512KB-4MB; 1MB on BCM2711 (Raspberry Pi 4
            // product brief).
            line_bytes: 64,
            l1d_bytes: 32 << 10,
            l1d_ways: 2,
            l2_bytes: 1 << 20,
            l2_ways: 16,
            // Cortex-A72 TRM 6.4.9: load streams fill L1D and L2, store
            // streams L2 only; with CPUACTLR_EL1[43] set prefetch stays in
            // the page of the triggering access (VA streams crossing pages
            // are not modelled). Assumption: streams, training and degree
            // are not published; 8 streams, 2 misses to train, 4 lines.
            pf_streams: 8,
            pf_train: 2,
            pf_degree: 4,
            pf_page_bytes: 4096,
            pf_cross: 0,
            // Raspberry Pi 4: 1.5 GHz (product brief).
            freq_mhz: 1500.0,
            // Assumption: one instruction per cycle for the load/store
            // bound copy loops (the A72 has one load and one store pipe,
            // Cortex-A72 Software Optimization Guide).
            cpi: 1.0,
            // Assumption: published pointer-chase figures for A72 L2 hits
            // are about 20 cycles; not re-measured here.
            l2_hit_cycles: 21.0,
            // Assumption: Raspberry Pi 4 DRAM load-to-use latency about
            // 120 ns (published pointer-chase figures range 100-150 ns).
            mem_ns: 120.0,
            // Device-nGnRnE: no early write acknowledgement, no merging,
            // no speculation: each access is a full memory round trip.
            device_ns: 120.0,
            // BCM2711: 32-bit LPDDR4-3200 = 12.8 GB/s peak.
            dram_gbs: 12.8,
            // Assumption: an L2 TLB hit costs a few cycles.
            l2_tlb_hit_cycles: 6.0,
            ifetch_uncached: 1.0,
            // Assumption: a decoupled front end. The A72 is out of order
            // and predicts branches ahead of fetch (TRM 6.5, "the branch
            // prediction hardware operates at the front of the instruction
            // pipeline"); a stalled Device access holds the back end, not
            // fetch.
            fetch_overlap: 1,
            // Cortex-A72 TRM 6.4 (L1 data memory system): "For Normal
            // memory, up to six 64-byte cache line requests can be
            // outstanding at a time". Assumption: within 128 instructions
            // (an out-of-order window; the TRM gives no size).
            mlp: 6,
            mlp_window: 128,
        }
    }

    /// Neoverse-N1 (a server core with a public TRM), as in Ampere Altra.
    pub fn n1() -> Params {
        Params {
            preset: "n1",
            // Neoverse N1 TRM (ARM 100616): L1 data TLB 48 entries, fully
            // associative, 4KB-1GB (held at up to 2MB here: assumption);
            // L2 TLB 1280 entries, 5-way.
            l1_tlb_entries: 48,
            l1_tlb_sizes: sizes(&[K4, K16, K64, M1, M2]),
            l2_tlb_entries: 1280,
            l2_tlb_ways: 5,
            l2_tlb_sizes: sizes(&[K4, K16, K64, M1, M2, M32, M512, G1]),
            // Neoverse N1 TRM: L1D 64KB 4-way, 64-byte lines; private L2
            // 1MB 8-way (Altra configuration). The system-level cache is
            // not modelled.
            line_bytes: 64,
            l1d_bytes: 64 << 10,
            l1d_ways: 4,
            l2_bytes: 1 << 20,
            l2_ways: 8,
            // Assumption, as for the A72.
            pf_streams: 8,
            pf_train: 2,
            pf_degree: 4,
            pf_page_bytes: 4096,
            pf_cross: 0,
            // Ampere Altra Q80-30: 3.0 GHz (product brief).
            freq_mhz: 3000.0,
            // Assumption: as for the A72 (N1 is 4-wide, 2 load/store pipes,
            // but the loops are memory bound).
            cpi: 1.0,
            // Arm's Neoverse N1 launch figures: L2 hit 9-11 cycles.
            l2_hit_cycles: 11.0,
            // Assumption: DDR4 server DRAM latency about 100 ns.
            mem_ns: 100.0,
            device_ns: 100.0,
            // 8 channels DDR4-3200 = 204.8 GB/s peak; one core sees far less:
            // assumption 25.6 GB/s (one channel).
            dram_gbs: 25.6,
            l2_tlb_hit_cycles: 5.0,
            ifetch_uncached: 1.0,
            // Assumptions, as for the A72 (N1's limits are larger; not
            // taken from a document in hand).
            fetch_overlap: 1,
            mlp: 6,
            mlp_window: 128,
        }
    }

    pub fn preset(name: &str) -> Option<Params> {
        match name {
            "a72" => Some(Params::a72()),
            "n1" | "neoverse-n1" => Some(Params::n1()),
            _ => None,
        }
    }

    pub fn mem_cycles(&self) -> f64 {
        self.mem_ns * self.freq_mhz / 1000.0
    }

    pub fn device_cycles(&self) -> f64 {
        self.device_ns * self.freq_mhz / 1000.0
    }

    /// Cycles to move one line over the DRAM interface at peak bandwidth.
    pub fn line_cycles(&self) -> f64 {
        self.line_bytes as f64 / self.dram_gbs * self.freq_mhz / 1000.0
    }

    /// Sets one parameter from a plugin argument.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let bad = || format!("model: bad value {value:?} for {key}");
        let int = || value.parse::<u64>().map_err(|_| bad());
        let float = || value.parse::<f64>().map_err(|_| bad());
        let mask = || -> Result<SizeMask, String> {
            value
                .split(',')
                .map(|s| {
                    parse_size(s)
                        .filter(|b| b.is_power_of_two())
                        .ok_or_else(bad)
                })
                .try_fold(0, |m, b| b.map(|b| m | b))
        };
        match key {
            "l1_tlb_entries" => self.l1_tlb_entries = int()? as u32,
            "l1_tlb_sizes" => self.l1_tlb_sizes = mask()?,
            "l2_tlb_entries" => self.l2_tlb_entries = int()? as u32,
            "l2_tlb_ways" => self.l2_tlb_ways = int()? as u32,
            "l2_tlb_sizes" => self.l2_tlb_sizes = mask()?,
            "line_bytes" => self.line_bytes = int()?,
            "l1d_bytes" => self.l1d_bytes = parse_size(value).ok_or_else(bad)?,
            "l1d_ways" => self.l1d_ways = int()? as u32,
            "l2_bytes" => self.l2_bytes = parse_size(value).ok_or_else(bad)?,
            "l2_ways" => self.l2_ways = int()? as u32,
            "pf_streams" => self.pf_streams = int()? as u32,
            "pf_train" => self.pf_train = int()? as u32,
            "pf_degree" => self.pf_degree = int()? as u32,
            "pf_page_bytes" => self.pf_page_bytes = parse_size(value).ok_or_else(bad)?,
            "pf_cross" => self.pf_cross = int()? as u32,
            "freq_mhz" => self.freq_mhz = float()?,
            "cpi" => self.cpi = float()?,
            "l2_hit_cycles" => self.l2_hit_cycles = float()?,
            "mem_ns" => self.mem_ns = float()?,
            "device_ns" => self.device_ns = float()?,
            "dram_gbs" => self.dram_gbs = float()?,
            "l2_tlb_hit_cycles" => self.l2_tlb_hit_cycles = float()?,
            "ifetch_uncached" => self.ifetch_uncached = float()?,
            "fetch_overlap" => self.fetch_overlap = int()? as u32,
            "mlp" => self.mlp = int()? as u32,
            "mlp_window" => self.mlp_window = int()?,
            _ => return Err(format!("model: unknown parameter {key:?}")),
        }
        self.check()
    }

    /// Geometry that the structures can be built from.
    pub fn check(&self) -> Result<(), String> {
        let sets = |bytes: u64, ways: u32| {
            let lines = bytes / self.line_bytes.max(1);
            ways > 0 && lines.is_multiple_of(ways as u64) && (lines / ways as u64).is_power_of_two()
        };
        let ok = self.line_bytes.is_power_of_two()
            && sets(self.l1d_bytes, self.l1d_ways)
            && sets(self.l2_bytes, self.l2_ways)
            && self.l1_tlb_entries > 0
            && self.l2_tlb_ways > 0
            && self.l2_tlb_entries.is_multiple_of(self.l2_tlb_ways)
            && self.l1_tlb_sizes != 0
            && self.l2_tlb_sizes != 0
            && self.pf_streams > 0
            && self.pf_cross <= 2
            && self.fetch_overlap <= 1
            && self.mlp > 0
            && (self.pf_page_bytes == 0 || self.pf_page_bytes.is_power_of_two())
            && self.freq_mhz > 0.0
            && self.dram_gbs > 0.0;
        if ok {
            Ok(())
        } else {
            Err("model: inconsistent parameters (cache sets a power of two, ways > 0, pf_cross 0..2, fetch_overlap 0 or 1, mlp > 0)".into())
        }
    }

    /// One JSON object with every parameter, for the plugin's first line.
    pub fn json(&self) -> String {
        let mask = |m: SizeMask| {
            let v: Vec<String> = (0..64)
                .filter(|b| m & (1 << b) != 0)
                .map(|b| format!("{}", 1u64 << b))
                .collect();
            format!("[{}]", v.join(","))
        };
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"record\":\"model_params\",\"modelled\":true,\"preset\":\"{}\",\
             \"l1_tlb_entries\":{},\"l1_tlb_sizes\":{},\"l2_tlb_entries\":{},\"l2_tlb_ways\":{},\"l2_tlb_sizes\":{},\
             \"line_bytes\":{},\"l1d_bytes\":{},\"l1d_ways\":{},\"l2_bytes\":{},\"l2_ways\":{},\
             \"pf_streams\":{},\"pf_train\":{},\"pf_degree\":{},\"pf_page_bytes\":{},\"pf_cross\":{},\
             \"freq_mhz\":{},\"cpi\":{},\"l2_hit_cycles\":{},\"mem_ns\":{},\"device_ns\":{},\"dram_gbs\":{},\
             \"l2_tlb_hit_cycles\":{},\"ifetch_uncached\":{},\"fetch_overlap\":{},\"mlp\":{},\"mlp_window\":{}}}",
            self.preset,
            self.l1_tlb_entries,
            mask(self.l1_tlb_sizes),
            self.l2_tlb_entries,
            self.l2_tlb_ways,
            mask(self.l2_tlb_sizes),
            self.line_bytes,
            self.l1d_bytes,
            self.l1d_ways,
            self.l2_bytes,
            self.l2_ways,
            self.pf_streams,
            self.pf_train,
            self.pf_degree,
            self.pf_page_bytes,
            self.pf_cross,
            self.freq_mhz,
            self.cpi,
            self.l2_hit_cycles,
            self.mem_ns,
            self.device_ns,
            self.dram_gbs,
            self.l2_tlb_hit_cycles,
            self.ifetch_uncached,
            self.fetch_overlap,
            self.mlp,
            self.mlp_window
        );
        s
    }
}

/// "4096", "4k", "64K", "1m", "1G".
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_consistent() {
        Params::a72().check().unwrap();
        Params::n1().check().unwrap();
    }

    #[test]
    fn set_parses_and_rejects() {
        let mut p = Params::a72();
        p.set("l2_bytes", "2M").unwrap();
        assert_eq!(p.l2_bytes, 2 << 20);
        p.set("l1_tlb_sizes", "4k,2m").unwrap();
        assert_eq!(piece(p.l1_tlb_sizes, 1 << 30), Some(2 << 20));
        assert!(p.set("l2_ways", "3").is_err());
        assert!(p.set("nope", "1").is_err());
        assert!(p.set("mem_ns", "fast").is_err());
        assert!(p.set("fetch_overlap", "2").is_err());
        assert!(p.set("mlp", "0").is_err());
    }

    #[test]
    fn pieces() {
        let m = Params::a72().l1_tlb_sizes;
        assert_eq!(piece(m, 4096), Some(4096));
        assert_eq!(piece(m, 2 << 20), Some(1 << 20));
        assert_eq!(piece(m, 1 << 30), Some(1 << 20));
        assert_eq!(piece(m, 16 << 10), Some(4096));
        assert_eq!(piece(m, 1024), None);
    }
}
