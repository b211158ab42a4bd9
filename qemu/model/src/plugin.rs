//! The QEMU side: recognises at translation time the instructions the
//! model cares about (run markers, TLBI, DC CIVAC/IVAC/CVAC, writes to the
//! translation registers) and feeds memory accesses and executed blocks
//! to one `Core` per vCPU. Modelling is on only between a run's start and
//! end markers. To keep the rest of the boot cheap, blocks translated
//! outside every run get only the marker, TLBI and MSR callbacks: the
//! measured loops are first executed, hence translated, inside a run, and
//! QEMU keeps their instrumented translation (`all=on` instruments every
//! block instead).
//! The markers are described in `decode`.
//!
//! Every block, in every mode, also adds its instructions per class
//! (`split`: walk, copy, cache maintenance) to per-vCPU counters with
//! inline ops, read at the stage's two PMEVCNTR0_EL0 reads of each run:
//! a count, printed as a `split` line per run. `model=off` keeps only
//! that (no cache or TLB modelling, no `model` lines), for the cost of an
//! inline add per block.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use qemu_plugin::{
    Args, CallbackFlags, HasCallbacks, Info, MemRW, PluginId, Register, RegisterDescriptor,
    TranslationBlock, VCPUIndex, qemu_plugin_get_registers, register,
};
use qemu_plugin_sys::GByteArray;

use crate::core::{Core, Translation};
use crate::decode::{Op, decode};
use crate::params::Params;
use crate::split::{self, CLASSES, Class, Ranges, Window};
use crate::walk::{Descriptors, Regime};

/// Register handles of one vCPU, looked up at vCPU init.
#[derive(Default)]
struct Regs {
    x: Vec<Option<RegisterDescriptor<'static>>>,
    cpsr: Option<RegisterDescriptor<'static>>,
    /// [EL1, EL2] each: SCTLR, TTBR0, TCR, MAIR.
    tr: [[Option<RegisterDescriptor<'static>>; 4]; 2],
}

fn read(r: &Option<RegisterDescriptor<'static>>) -> Option<u64> {
    let v = r.as_ref()?.read().ok()?;
    let mut b = [0u8; 8];
    let n = v.len().min(8);
    b[..n].copy_from_slice(&v[..n]);
    Some(u64::from_le_bytes(b))
}

impl Regs {
    fn lookup() -> Regs {
        let mut regs = Regs {
            x: (0..31).map(|_| None).collect(),
            ..Regs::default()
        };
        let names = [
            ["SCTLR", "TTBR0_EL1", "TCR_EL1", "MAIR_EL1"],
            ["SCTLR_EL2", "TTBR0_EL2", "TCR_EL2", "MAIR_EL2"],
        ];
        for r in qemu_plugin_get_registers().unwrap_or_default() {
            let name = r.name.clone();
            if let Some(n) = name.strip_prefix('x').and_then(|n| n.parse::<usize>().ok())
                && n < 31
            {
                regs.x[n] = Some(r);
            } else if name == "cpsr" {
                regs.cpsr = Some(r);
            } else {
                for (el, set) in names.iter().enumerate() {
                    if let Some(i) = set.iter().position(|s| *s == name) {
                        regs.tr[el][i] = Some(r);
                        break;
                    }
                }
            }
        }
        regs
    }

    /// The live translation regime (EL from CPSR; EL2 with E2H = 0).
    fn translation(&self) -> Option<Translation> {
        let el = (read(&self.cpsr)? >> 2) & 3;
        let set = &self.tr[usize::from(el == 2)];
        let sctlr = read(&set[0])?;
        Some(Translation {
            mmu: sctlr & 1 != 0,
            icache: sctlr & (1 << 12) != 0,
            regime: Regime {
                ttbr0: read(&set[1])?,
                tcr: read(&set[2])?,
                mair: read(&set[3])?,
            },
        })
    }
}

unsafe extern "C" {
    // glib, from the QEMU binary the plugin is loaded into.
    fn g_byte_array_new() -> *mut GByteArray;
    fn g_byte_array_free(array: *mut GByteArray, free_segment: bool) -> *mut u8;
}

/// Descriptor reads through QEMU's debug access of the current vCPU: the
/// stage's maps identity-map their own tables, so VA = PA for them.
struct GuestMem;

impl Descriptors for GuestMem {
    fn read(&mut self, pa: u64) -> Option<u64> {
        // QEMU may reallocate the array to `len` bytes, so it must be a
        // real GByteArray, not a stack wrapper around a Rust buffer.
        // SAFETY: a fresh glib array, freed below; QEMU writes `len` bytes
        // into it and sets `len`.
        unsafe {
            let a = g_byte_array_new();
            let ok = qemu_plugin_sys::qemu_plugin_read_memory_vaddr(pa, a, 8);
            let v = (ok && (*a).len >= 8).then(|| {
                let mut b = [0u8; 8];
                b.copy_from_slice(std::slice::from_raw_parts((*a).data, 8));
                u64::from_le_bytes(b)
            });
            g_byte_array_free(a, true);
            v
        }
    }
}

/// The copy kernels' code ranges, read from the table the stage points
/// at (x1, x2 of the first run-start marker that gives a good one).
static RANGES: OnceLock<Ranges> = OnceLock::new();

fn load_ranges(lo: u64, hi: u64) {
    if RANGES.get().is_some() || hi <= lo || hi - lo > 4096 {
        return;
    }
    let mut table = Vec::new();
    for a in (lo..hi).step_by(8) {
        match GuestMem.read(a) {
            Some(w) => table.extend(w.to_le_bytes()),
            None => return,
        }
    }
    if let Some(r) = Ranges::parse(&table) {
        let _ = RANGES.set(r);
    }
}

/// Per-vCPU running instruction totals per split class, added to by a
/// callback at the start of every block with the block's counts.
///
/// Not QEMU's inline per-vCPU scoreboard adds: with them, a second vCPU
/// started late (PSCI CPU_ON, `cpus=2` on virt) aborted QEMU 10.0.2
/// (`arm_mmu_idx_el: code should not be reached`) and on raspi4b
/// (`cpus=4`) a contiguous copy failed verification; the same boots pass
/// with a callback. A callback also always gets the executing vCPU's
/// index (inline code translated without CF_PARALLEL bakes in the
/// translating vCPU's).
static TOTALS: OnceLock<Vec<[AtomicU64; CLASSES]>> = OnceLock::new();

fn totals(vcpu: VCPUIndex) -> [u64; CLASSES] {
    TOTALS
        .get()
        .and_then(|t| t.get(vcpu as usize))
        .map_or([0; CLASSES], |t| {
            t.each_ref().map(|c| c.load(Ordering::Relaxed))
        })
}

fn add_totals(vcpu: VCPUIndex, counts: &[u64; CLASSES]) {
    if let Some(t) = TOTALS.get().and_then(|t| t.get(vcpu as usize)) {
        for (c, k) in t.iter().zip(counts) {
            c.fetch_add(*k, Ordering::Relaxed);
        }
    }
}

struct Vcpu {
    core: Core,
    /// The run's instruction split window.
    window: Window,
    regs: Regs,
    /// The run being modelled.
    run: Option<u64>,
    /// A translation register was written: re-read before the next block.
    stale: bool,
    /// The `model_error` line about unreadable registers was printed.
    warned: bool,
}

impl Vcpu {
    fn refresh(&mut self) {
        self.stale = false;
        match self.regs.translation() {
            Some(t) => self.core.set_translation(t),
            None if !self.warned => {
                self.warned = true;
                out(
                    "{\"record\":\"model_error\",\"modelled\":true,\"msg\":\"cannot read SCTLR/TTBR0/TCR/MAIR of the current EL: translation state is stale\"}\n",
                );
            }
            None => {}
        }
    }

    /// The run's `split` line: measured (counted), not modelled.
    fn report_split(&self, vcpu: VCPUIndex, run: u64) {
        let Some([walk, copy, cmo]) = self.window.split() else {
            return;
        };
        out(&format!(
            "{{\"record\":\"split\",\"vcpu\":{vcpu},\"run\":{run},\"split_insns\":{},\
             \"split_walk\":{walk},\"split_copy\":{copy},\"split_cmo\":{cmo},\"copy_ranges\":{}}}\n",
            walk + copy + cmo,
            RANGES.get().map_or(0, Ranges::len),
        ));
    }

    fn report(&self, vcpu: VCPUIndex, run: u64) {
        let c = &self.core.counts;
        let p = &self.core.p;
        let cost = c.cost(p);
        let line = format!(
            "{{\"record\":\"model\",\"modelled\":true,\"preset\":\"{}\",\"vcpu\":{vcpu},\"run\":{run},\
             \"model_insns\":{},\"model_loads\":{},\"model_stores\":{},\
             \"model_l1_tlb_misses\":{},\"model_l2_tlb_misses\":{},\"model_walks\":{},\"model_walk_mem_accesses\":{},\
             \"model_l1d_misses\":{},\"model_l2_misses\":{},\"model_prefetches\":{},\"model_prefetches_useful\":{},\
             \"model_device_accesses\":{},\"model_dram_lines\":{},\"model_writebacks\":{},\
             \"model_cache_maintenance\":{},\"model_uncached_fetches\":{},\"model_load_misses_overlapped\":{},\
             \"model_cycles\":{},\"model_ns\":{},\
             \"model_cycles_by_term\":{{\"insns\":{},\"l2_hits\":{},\"mem\":{},\"device\":{},\"bandwidth\":{},\"l2_tlb\":{},\"ifetch\":{},\"hidden\":{}}}}}\n",
            p.preset,
            c.insns,
            c.loads,
            c.stores,
            c.l1_tlb_misses,
            c.l2_tlb_misses,
            c.walks,
            c.walk_mem_accesses,
            c.l1d_misses,
            c.l2_misses,
            c.prefetches,
            c.prefetches_useful,
            c.device_accesses,
            c.dram_lines,
            c.writebacks,
            c.cache_maintenance,
            c.uncached_fetches,
            c.load_l2_misses_overlapped,
            cost.total.round() as u64,
            (cost.total * 1000.0 / p.freq_mhz).round() as u64,
            cost.insns.round() as u64,
            cost.l2_hits.round() as u64,
            cost.mem.round() as u64,
            cost.device.round() as u64,
            cost.bandwidth.round() as u64,
            cost.l2_tlb.round() as u64,
            cost.ifetch.round() as u64,
            cost.hidden.round() as u64,
        );
        out(&line);
    }
}

fn out(s: &str) {
    if let Ok(c) = CString::new(s) {
        // SAFETY: a NUL-terminated string that outlives the call.
        unsafe { qemu_plugin_sys::qemu_plugin_outs(c.as_ptr()) };
    }
}

struct State {
    params: Params,
    vcpus: Vec<Mutex<Option<Vcpu>>>,
}

static STATE: OnceLock<State> = OnceLock::new();
/// vCPUs inside a run; blocks translated while it is non-zero are fully
/// instrumented.
static IN_RUN: AtomicU32 = AtomicU32::new(0);
/// `all=on`: instrument every block.
static ALL: AtomicBool = AtomicBool::new(false);
/// `model=off`: the split only.
static MODEL: AtomicBool = AtomicBool::new(true);

fn with_vcpu(i: VCPUIndex, f: impl FnOnce(&mut Vcpu)) {
    let Some(st) = STATE.get() else { return };
    let Some(m) = st.vcpus.get(i as usize) else {
        return;
    };
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = g.as_mut() {
        f(v);
    }
}

/// Like `with_vcpu`, only while a run is being modelled.
fn in_run(i: VCPUIndex, f: impl FnOnce(&mut Vcpu)) {
    with_vcpu(i, |v| {
        if v.run.is_some() {
            f(v)
        }
    });
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(1)
}

#[derive(Default)]
struct Model;

impl Register for Model {
    fn register(&mut self, _id: PluginId, args: &Args, info: &Info) -> qemu_plugin::Result<()> {
        if info.target_name != "aarch64" {
            fail(&format!(
                "model: target {} is not aarch64",
                info.target_name
            ));
        }
        let mut params = Params::a72();
        // `preset=` first, then every other `name=value` over it.
        let pairs: Vec<(&str, &str)> = args
            .raw
            .iter()
            .map(|a| a.split_once('=').unwrap_or((a.as_str(), "")))
            .collect();
        if let Some((_, a)) = pairs.iter().find(|(k, _)| *k == "all") {
            let on = matches!(*a, "on" | "yes" | "true");
            if !on && !matches!(*a, "off" | "no" | "false") {
                fail(&format!("model: all={a}: expected on or off"));
            }
            ALL.store(on, Ordering::Relaxed);
        }
        if let Some((_, a)) = pairs.iter().find(|(k, _)| *k == "model") {
            let on = matches!(*a, "on" | "yes" | "true");
            if !on && !matches!(*a, "off" | "no" | "false") {
                fail(&format!("model: model={a}: expected on or off"));
            }
            MODEL.store(on, Ordering::Relaxed);
        }
        if let Some((_, p)) = pairs.iter().find(|(k, _)| *k == "preset") {
            params = Params::preset(p)
                .unwrap_or_else(|| fail(&format!("model: unknown preset {p:?} (a72, n1)")));
        }
        for (k, v) in pairs
            .iter()
            .filter(|(k, _)| !matches!(*k, "preset" | "all" | "model"))
        {
            params.set(k, v).unwrap_or_else(|e| fail(&e));
        }
        let n = info
            .system
            .as_ref()
            .map_or(1, |s| s.max_vcpus.max(1) as usize);
        if MODEL.load(Ordering::Relaxed) {
            out(&format!("{}\n", params.json()));
        }
        let _ = TOTALS.set((0..n).map(|_| Default::default()).collect());
        let _ = STATE.set(State {
            params,
            vcpus: (0..n).map(|_| Mutex::new(None)).collect(),
        });
        Ok(())
    }
}

impl HasCallbacks for Model {
    fn on_vcpu_init(&mut self, _id: PluginId, vcpu: VCPUIndex) -> qemu_plugin::Result<()> {
        let Some(st) = STATE.get() else { return Ok(()) };
        if let Some(m) = st.vcpus.get(vcpu as usize) {
            let regs = Regs::lookup();
            if regs.cpsr.is_none() || regs.tr[0].iter().any(Option::is_none) {
                fail("model: QEMU exposes no cpsr/SCTLR/TTBR0_EL1/TCR_EL1/MAIR_EL1 to plugins");
            }
            *m.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vcpu {
                core: Core::new(st.params.clone()),
                window: Window::default(),
                regs,
                run: None,
                stale: false,
                warned: false,
            });
        }
        Ok(())
    }

    fn on_translation_block_translate(
        &mut self,
        _id: PluginId,
        tb: TranslationBlock,
    ) -> qemu_plugin::Result<()> {
        let n = tb.size() as u64;
        let model = MODEL.load(Ordering::Relaxed);
        let full = model && (ALL.load(Ordering::Relaxed) || IN_RUN.load(Ordering::Relaxed) > 0);
        let mut per_class = [0u64; CLASSES];
        let no_ranges = Ranges::default();
        let ranges = RANGES.get().unwrap_or(&no_ranges);
        // Instructions, uncached fetch redirects, and translation changes
        // seen at the start of each block.
        if full {
            tb.register_execute_callback_flags(
                move |vcpu| {
                    in_run(vcpu, |v| {
                        if v.stale {
                            v.refresh();
                        }
                        v.core.insns(n);
                    })
                },
                CallbackFlags::QEMU_PLUGIN_CB_R_REGS,
            );
        }
        for insn in tb.instructions() {
            let mut b = [0u8; 4];
            if insn.read_data(&mut b) != 4 {
                per_class[Class::Walk as usize] += 1;
                continue;
            }
            let word = u32::from_le_bytes(b);
            per_class[split::classify(word, insn.vaddr(), ranges) as usize] += 1;
            if split::is_pmevcntr0_read(word) {
                insn.register_execute_callback_flags(
                    |vcpu| {
                        with_vcpu(vcpu, |v| {
                            if v.run.is_some() {
                                v.window.read(totals(vcpu));
                            }
                        })
                    },
                    CallbackFlags::QEMU_PLUGIN_CB_NO_REGS,
                );
            }
            let op = decode(word);
            if !model && !matches!(op, Op::RunStart | Op::RunEnd) {
                continue;
            }
            match op {
                Op::RunStart => insn.register_execute_callback_flags(
                    move |vcpu| {
                        with_vcpu(vcpu, |v| {
                            let id = read(&v.regs.x[0]).unwrap_or(u64::MAX);
                            if let (Some(lo), Some(hi)) = (read(&v.regs.x[1]), read(&v.regs.x[2])) {
                                load_ranges(lo, hi);
                            }
                            v.window.start();
                            if model {
                                v.core.reset();
                                v.refresh();
                            }
                            if v.run.replace(id).is_none() {
                                IN_RUN.fetch_add(1, Ordering::Relaxed);
                            }
                        })
                    },
                    CallbackFlags::QEMU_PLUGIN_CB_R_REGS,
                ),
                Op::RunEnd => insn.register_execute_callback_flags(
                    move |vcpu| {
                        with_vcpu(vcpu, |v| {
                            if let Some(run) = v.run.take() {
                                IN_RUN.fetch_sub(1, Ordering::Relaxed);
                                if model {
                                    v.report(vcpu, run);
                                }
                                v.report_split(vcpu, run);
                            }
                        })
                    },
                    CallbackFlags::QEMU_PLUGIN_CB_NO_REGS,
                ),
                Op::Tlbi => insn.register_execute_callback_flags(
                    |vcpu| in_run(vcpu, |v| v.core.flush_tlbs()),
                    CallbackFlags::QEMU_PLUGIN_CB_NO_REGS,
                ),
                Op::TranslationWrite => insn.register_execute_callback_flags(
                    |vcpu| in_run(vcpu, |v| v.stale = true),
                    CallbackFlags::QEMU_PLUGIN_CB_NO_REGS,
                ),
                Op::Dc(op, rt) if rt < 31 && full => insn.register_execute_callback_flags(
                    move |vcpu| {
                        in_run(vcpu, |v| {
                            if let Some(va) = read(&v.regs.x[rt as usize]) {
                                v.core.maintain(va, op, &mut GuestMem);
                            }
                        })
                    },
                    CallbackFlags::QEMU_PLUGIN_CB_R_REGS,
                ),
                _ => {}
            }
            if !full {
                continue;
            }
            insn.register_memory_access_callback(
                |vcpu, info, vaddr| {
                    in_run(vcpu, |v| {
                        v.core.access(vaddr, info.is_store(), &mut GuestMem)
                    })
                },
                MemRW::QEMU_PLUGIN_MEM_RW,
            );
        }
        tb.register_execute_callback_flags(
            move |vcpu| add_totals(vcpu, &per_class),
            CallbackFlags::QEMU_PLUGIN_CB_NO_REGS,
        );
        Ok(())
    }
}

register!(Model);
