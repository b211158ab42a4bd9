//! The stage's flow: discover the platform, parse the command line, do
//! what `mode=` asks, report, exit. Thin glue over the library and the
//! arch/board code; every failure funnels through [`fail`].

use core::fmt;

use mmu_reloc::bootargs::{self, LogLevel, Mode};
use mmu_reloc::cpu::{CpuInfo, Granule};
use mmu_reloc::fdt::{self, Fdt};
use mmu_reloc::platform::{self, Platform};
use mmu_reloc::record::{self, Record};
use mmu_reloc::region::{self, Region};

use crate::arch::{self, semihosting};
use crate::board::{BootCpuCell, console, console::Console, power};
use crate::{heap, println};

mod containment;
mod fit_boot;
mod handoff;
mod linear_map;
pub mod relocation;

/// Exit statuses, as QEMU reports them (with semihosting).
pub const EXIT_OK: u32 = 0;
/// Bad input: DTB, command line, segments, CPU feature.
pub const EXIT_INPUT: u32 = 1;
/// A copy did not verify or a guard was touched.
pub const EXIT_VERIFY: u32 = 2;
/// An unexpected exception.
pub const EXIT_EXCEPTION: u32 = 3;
/// A Rust panic (a bug in the stage).
pub const EXIT_PANIC: u32 = 4;

/// Largest DTB accepted; anything bigger is a corrupt header.
const DTB_MAX: usize = 16 << 20;

static ENDING: BootCpuCell<bool> = BootCpuCell::new(false);

/// Checks write containment, prints the final record and stops the
/// machine. A success with a touched guard or DTB becomes a failure.
pub fn exit(code: u32) -> ! {
    ENDING.set(true);
    let code = if containment::check() || code != EXIT_OK {
        code
    } else {
        println!("mmu-reloc: error: a guard page or the DTB was written");
        EXIT_VERIFY
    };
    Record::new(&mut Console, "exit")
        .u64("status", code as u64)
        .end();
    power::exit(code)
}

/// Reports an error (human line and record) and exits with `code`.
pub fn fail(code: u32, msg: fmt::Arguments<'_>) -> ! {
    if ENDING.get() {
        // A fault while reporting or stopping: stop without printing or
        // calling PSCI again.
        power::halt(code);
    }
    ENDING.set(true);
    println!("mmu-reloc: error: {msg}");
    record::error(&mut Console, msg);
    exit(code)
}

pub fn fail_exception(msg: fmt::Arguments<'_>) -> ! {
    fail(EXIT_EXCEPTION, msg)
}

/// The DTB the loader passed, bounded by its own header; it must lie
/// outside the stage's own memory (image, bss, heap, stack).
fn dtb_blob(phys: u64, stage: Region) -> &'static [u8] {
    if phys == 0 || !phys.is_multiple_of(8) {
        fail(
            EXIT_INPUT,
            format_args!("no usable DTB pointer in x0 ({phys:#x}): boot with a DTB"),
        );
    }
    if stage.contains(phys) {
        fail(
            EXIT_INPUT,
            format_args!(
                "DTB at {phys:#x} lies inside this stage {stage}: load it above the Image's image_size"
            ),
        );
    }
    // SAFETY: the boot protocol puts a DTB at x0; its first HEADER_LEN
    // bytes are readable (a bad address faults into the exception handler).
    let header = unsafe { core::slice::from_raw_parts(phys as *const u8, fdt::HEADER_LEN) };
    let total = fdt::header_total_size(header)
        .unwrap_or_else(|e| fail(EXIT_INPUT, format_args!("{e} (blob at {phys:#x})")));
    if !(fdt::HEADER_LEN..=DTB_MAX).contains(&total) {
        fail(
            EXIT_INPUT,
            format_args!(
                "DTB totalsize {total} out of range (limit: {} bytes to {} MiB; blob at {phys:#x})",
                fdt::HEADER_LEN,
                DTB_MAX >> 20
            ),
        );
    }
    let dtb = Region::new(phys, phys.saturating_add(total as u64));
    if dtb.overlaps(&stage) {
        fail(
            EXIT_INPUT,
            format_args!(
                "DTB {dtb} overlaps this stage {stage}: load it above the Image's image_size"
            ),
        );
    }
    // SAFETY: the header claims `total` bytes; they stay untouched while
    // the stage runs (the DTB is a forbidden range for every writer).
    unsafe { core::slice::from_raw_parts(phys as *const u8, total) }
}

fn log_filter(l: LogLevel) -> log::LevelFilter {
    match l {
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Trace => log::LevelFilter::Trace,
    }
}

/// What was learned before `mode=` runs.
pub struct World<'a> {
    pub el: u8,
    pub load: u64,
    pub stage: Region,
    pub dtb: Region,
    pub platform: Platform<'a>,
    pub cpu: CpuInfo,
    pub args: bootargs::BootArgs,
    /// Command-line words that belong to the next stage.
    pub foreign: alloc::vec::Vec<&'a str>,
}

/// Entered from `asm/entry.S` on the boot CPU with the stack set.
pub fn run(dtb_phys: u64, load: u64) -> ! {
    // EL3 never gets here: asm/entry.S stops it.
    let el = arch::current_el();
    let have_semihosting = semihosting::probe();
    let (stage_start, stage_end) = arch::stage_bounds();
    let stage = Region::new(stage_start, stage_end);
    // Nothing below allocates until the heap is known not to cover what the
    // loader passed (a loader that ignored image_size).
    let blob = dtb_blob(dtb_phys, stage);
    containment::watch_dtb(blob);
    let fdt = Fdt::new(blob).unwrap_or_else(|e| fail(EXIT_INPUT, format_args!("{e}")));
    if let Some(initrd) = platform::initrd(&fdt)
        && initrd.overlaps(&stage)
    {
        fail(
            EXIT_INPUT,
            format_args!(
                "initrd {initrd} lies inside this stage {stage}: load it above the Image's image_size"
            ),
        );
    }
    if arch::el2_host_mode() {
        fail(
            EXIT_INPUT,
            format_args!("entered at EL2 with HCR_EL2.E2H=1 (VHE): unsupported, enter with E2H=0"),
        );
    }
    let (heap_start, heap_end) = arch::heap_bounds();
    heap::init(heap_start, heap_end);
    // Until here the console is semihosting, if present.
    let uart = platform::console(&fdt).unwrap_or_else(|e| fail(EXIT_INPUT, format_args!("{e}")));
    console::init(uart);
    console::init_log(log::LevelFilter::Info);

    let platform =
        platform::discover(&fdt).unwrap_or_else(|e| fail(EXIT_INPUT, format_args!("{e}")));
    power::set_psci(platform.psci);
    let parsed = bootargs::parse(platform.bootargs)
        .unwrap_or_else(|e| fail(EXIT_INPUT, format_args!("{e}")));
    console::init_log(log_filter(parsed.args.log));
    for word in &parsed.foreign {
        log::warn!("bootargs: '{word}' is not a stage option; left for the next stage");
    }
    let (midr, mmfr0) = arch::cpu_id_registers();
    let world = World {
        el,
        load,
        stage,
        dtb: Region::new(dtb_phys, dtb_phys + blob.len() as u64),
        platform,
        cpu: CpuInfo::decode(midr, mmfr0),
        args: parsed.args,
        foreign: parsed.foreign,
    };
    report_platform(&world, have_semihosting);

    match world.args.mode {
        Mode::Bench => crate::bench::run(&world),
        Mode::Boot => handoff::boot(&world, blob),
        Mode::Info => info(&world),
    }
}

/// `mode=info`: the linear map alone, turned on, checked with `AT`, and
/// the caches proven in both directions.
fn info(w: &World<'_>) -> ! {
    let forbidden = linear_map::forbidden(w, &[]);
    let mappings = linear_map::identity_mappings(w);
    let (map, build_ns) = linear_map::build(w, &mappings, &forbidden);
    linear_map::enable_verified(w, &map, &forbidden, build_ns);
    let coherent = linear_map::coherence_check(w, &map);
    Record::new(&mut Console, "caches")
        .bool("coherent", coherent)
        .end();
    if !coherent {
        fail(
            EXIT_VERIFY,
            format_args!("caches: pattern lost across MMU off/on"),
        );
    }
    exit(EXIT_OK)
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

fn report_platform(w: &World<'_>, have_semihosting: bool) {
    let p = &w.platform;
    let granules: alloc::vec::Vec<&str> = Granule::ALL
        .iter()
        .filter(|g| w.cpu.supports(**g))
        .map(|g| g.name())
        .collect();
    let ram_bytes = region::total_len(&p.ram);
    println!("mmu-reloc: platform");
    println!("  model      {}", p.model);
    println!(
        "  el         EL{} (loaded at {:#x}, stage {})",
        w.el, w.load, w.stage
    );
    println!(
        "  cpu        {} MIDR {:#x}, PA {} bits, granules {:?}, {} CPU(s)",
        w.cpu.core_name(),
        w.cpu.midr,
        w.cpu.pa_bits,
        granules,
        p.cpus
    );
    for r in &p.ram {
        println!("  ram        {r} {} MiB", mib(r.len()));
    }
    println!("  ram total  {} MiB", mib(ram_bytes));
    for r in &p.reserved {
        println!("  reserved   {r}");
    }
    println!("  dtb        {}", w.dtb);
    if let Some(i) = p.initrd {
        println!("  initrd     {i} ({} bytes)", i.len());
    }
    match p.console {
        Some(u) => println!("  console    {} at {:#x}", u.kind.name(), u.regs.start),
        None => println!("  console    {}", console::describe()),
    }
    println!("  psci       {}", p.psci.map_or("none", |m| m.name()));
    println!(
        "  semihost   {}",
        if have_semihosting { "yes" } else { "no" }
    );
    println!("  timer      {} Hz", arch::counter_hz());
    println!("  bootargs   \"{}\"", p.bootargs);

    Record::new(&mut Console, "platform")
        .u64("el", w.el as u64)
        .str("model", p.model)
        .u64("ram_bytes", ram_bytes)
        .regions("ram", &p.ram)
        .regions("reserved", &p.reserved)
        .regions("dtb", &[w.dtb])
        .regions("stage", &[w.stage])
        .hex("load", w.load)
        .regions("initrd", p.initrd.as_slice())
        .str("bootargs", p.bootargs)
        .u64("cpus", p.cpus as u64)
        .hex("midr", w.cpu.midr)
        .str("core", w.cpu.core_name())
        .u64("pa_bits", w.cpu.pa_bits as u64)
        .strs("granules", granules.iter().copied())
        .str("console", console::describe())
        .str("psci", p.psci.map_or("none", |m| m.name()))
        .bool("semihosting", have_semihosting)
        .u64("counter_hz", arch::counter_hz())
        .end();
}
