//! The stage's flow: discover the platform, parse the command line, do
//! what `mode=` asks, report, exit. Thin glue over the workload, the
//! benchmark and the hand-off; every step returns a `Result` and the run
//! ends in one place, [`finish`], which owns the exit status.

use mmu_reloc::bootargs::{self, LogLevel, Mode};
use mmu_reloc::cpu::Granule;
use mmu_reloc::exit::{Error, ExitStatus};
use mmu_reloc::fdt::{self, Fdt};
use mmu_reloc::platform;
use mmu_reloc::record::{self, Record};
use mmu_reloc::region::{self, Region};

use crate::arch::exception::{self, Fault};
use crate::arch::{self, BootCpuCell, semihosting};
use crate::board::{console, console::Console, power};
use crate::workload::{World, containment, linear_map};
use crate::{bench, handoff, heap, println};

/// Largest DTB accepted; anything bigger is a corrupt header.
const DTB_MAX: usize = 16 << 20;

/// Set once the run is ending: a fault while reporting or stopping must
/// not report or call PSCI again.
static ENDING: BootCpuCell<bool> = BootCpuCell::new(false);

/// The one exit path: reports the error (human line and `error` record),
/// checks write containment (a success with a touched guard or DTB becomes
/// a verify failure), prints the `exit` record and stops the machine.
pub fn finish(result: Result<(), Error>) -> ! {
    let mut status = ExitStatus::Ok;
    if let Err(e) = &result {
        status = e.status();
        if ENDING.get() {
            power::halt(status.code());
        }
        ENDING.set(true);
        println!("mmu-reloc: error: {e}");
        record::error(&mut Console, format_args!("{e}"));
    }
    ENDING.set(true);
    if !containment::check() && status == ExitStatus::Ok {
        println!("mmu-reloc: error: a guard page or the DTB was written");
        status = ExitStatus::Verify;
    }
    Record::new(&mut Console, "exit")
        .u64("status", status.code().into())
        .end();
    power::exit(status.code())
}

/// The fault handler registered with `arch::exception`.
fn on_fault(f: &Fault) -> ! {
    finish(Err(Error::new(ExitStatus::Exception, f)))
}

/// The panic handler's way out.
pub fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    finish(Err(Error::new(
        ExitStatus::Panic,
        format_args!("panic: {info}"),
    )))
}

/// The DTB the loader passed, bounded by its own header; it must lie
/// outside the stage's own memory (image, bss, heap, stack). Runs before
/// the heap exists.
fn dtb_blob(phys: u64, stage: Region) -> Result<&'static [u8], Error> {
    if phys == 0 || !phys.is_multiple_of(8) {
        return Err(Error::input(format_args!(
            "no usable DTB pointer in x0 ({phys:#x}): boot with a DTB"
        )));
    }
    if stage.contains(phys) {
        return Err(Error::input(format_args!(
            "DTB at {phys:#x} lies inside this stage {stage}: load it above the Image's image_size"
        )));
    }
    // SAFETY: the boot protocol puts a DTB at x0; its first HEADER_LEN
    // bytes are readable (a bad address faults into the exception handler).
    let header = unsafe { core::slice::from_raw_parts(phys as *const u8, fdt::HEADER_LEN) };
    let total = fdt::header_total_size(header)
        .map_err(|e| Error::input(format_args!("{e} (blob at {phys:#x})")))?;
    if !(fdt::HEADER_LEN..=DTB_MAX).contains(&total) {
        return Err(Error::input(format_args!(
            "DTB totalsize {total} out of range (limit: {} bytes to {} MiB; blob at {phys:#x})",
            fdt::HEADER_LEN,
            DTB_MAX >> 20
        )));
    }
    let dtb = Region::new(phys, phys.saturating_add(total as u64));
    if dtb.overlaps(&stage) {
        return Err(Error::input(format_args!(
            "DTB {dtb} overlaps this stage {stage}: load it above the Image's image_size"
        )));
    }
    // SAFETY: the header claims `total` bytes; they stay untouched while
    // the stage runs (the DTB is a forbidden range for every writer).
    Ok(unsafe { core::slice::from_raw_parts(phys as *const u8, total) })
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

/// Entered from `asm/entry.S` on the boot CPU with the stack set.
pub fn run(dtb_phys: u64, load: u64) -> ! {
    exception::set_handler(on_fault);
    finish(flow(dtb_phys, load))
}

/// Discover, then do what `mode=` asks.
fn flow(dtb_phys: u64, load: u64) -> Result<(), Error> {
    let (world, blob) = discover(dtb_phys, load)?;
    platform::cpus_wanted(world.args.cpus, world.platform.cpu_ids.len() as u32)
        .map_err(|e| Error::input(format_args!("{e}")))?;
    match world.args.mode {
        Mode::Bench => bench::run(&world),
        Mode::Boot => match handoff::boot(&world, blob)? {},
        Mode::Info => info(&world),
    }
}

/// Before anything allocates: the DTB and initrd the loader passed must
/// lie outside the stage (a loader that ignored image_size), and the EL2
/// regime must be one the stage can program.
fn check_entry(dtb_phys: u64, stage: Region) -> Result<&'static [u8], Error> {
    let blob = dtb_blob(dtb_phys, stage)?;
    containment::watch_dtb(blob);
    let fdt = Fdt::new(blob)?;
    if let Some(initrd) = platform::initrd(&fdt)
        && initrd.overlaps(&stage)
    {
        return Err(Error::input(format_args!(
            "initrd {initrd} lies inside this stage {stage}: load it above the Image's image_size"
        )));
    }
    Ok(blob)
}

/// Heap, console, platform, command line: everything `mode=` needs.
fn discover(dtb_phys: u64, load: u64) -> Result<(World<'static>, &'static [u8]), Error> {
    // EL3 never gets here: asm/entry.S stops it.
    let regime = arch::current_regime();
    let have_semihosting = semihosting::probe();
    let stage = arch::stage_bounds();
    let blob = check_entry(dtb_phys, stage)?;
    arch::unmask_serror();
    heap::init(arch::heap_bounds());
    let fdt = Fdt::new(blob)?;
    // Until here the console is semihosting, if present.
    console::init(platform::console(&fdt)?);
    console::init_log(log::LevelFilter::Info);
    // Refused only now, so a board without semihosting prints why (nothing
    // above touched the EL2 translation regime).
    if arch::el2_host_mode() {
        return Err(Error::input(
            "EL2 on a CPU without FEAT_E2H0 (HCR_EL2.E2H is RES1, VHE only): unsupported, boot the Image at EL1",
        ));
    }

    let platform = platform::discover(&fdt)?;
    power::set_psci(platform.psci);
    let parsed = bootargs::parse(platform.bootargs)?;
    console::init_log(log_filter(parsed.args.log));
    for word in &parsed.foreign {
        log::warn!("bootargs: '{word}' is not a stage option; left for the next stage");
    }
    let world = World {
        regime,
        load,
        stage,
        dtb: Region::new(dtb_phys, dtb_phys + blob.len() as u64),
        platform,
        cpu: arch::cpu_info(),
        args: parsed.args,
        foreign: parsed.foreign,
    };
    report_platform(&world, have_semihosting);
    Ok((world, blob))
}

/// `mode=info`: the linear map alone, turned on, checked with `AT`, and
/// the caches proven in both directions.
fn info(w: &World<'_>) -> Result<(), Error> {
    let forbidden = linear_map::forbidden(w, &[]);
    let mappings = linear_map::identity_mappings(w);
    let (map, build_ns) = linear_map::build(w, &mappings, &forbidden)?;
    linear_map::enable_verified(w, &map, &forbidden, build_ns)?;
    let coherent = linear_map::coherence_check(w, &map);
    Record::new(&mut Console, "caches")
        .bool("coherent", coherent)
        .end();
    if !coherent {
        return Err(Error::verify("caches: pattern lost across MMU off/on"));
    }
    Ok(())
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// The human platform report and the `platform` record.
fn report_platform(w: &World<'_>, have_semihosting: bool) {
    let granules: alloc::vec::Vec<&str> = Granule::ALL
        .iter()
        .filter(|g| w.cpu.supports(**g))
        .map(|g| g.name())
        .collect();
    print_platform(w, &granules, have_semihosting);
    platform_record(w, &granules, have_semihosting);
}

fn print_platform(w: &World<'_>, granules: &[&str], have_semihosting: bool) {
    let p = &w.platform;
    let ram_bytes = region::total_len(&p.ram);
    println!("mmu-reloc: platform");
    println!("  model      {}", p.model);
    println!(
        "  el         EL{} (loaded at {:#x}, stage {})",
        w.regime.el(),
        w.load,
        w.stage
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
    println!("  boot cpu   MPIDR affinity {:#x}", arch::boot_mpidr());
    println!("  psci       {}", p.psci.map_or("none", |m| m.name()));
    println!(
        "  semihost   {}",
        if have_semihosting { "yes" } else { "no" }
    );
    println!("  timer      {} Hz", arch::counter_hz());
    println!(
        "  dcache     {}-byte lines (CTR_EL0.DminLine)",
        arch::mmu::dcache_line()
    );
    println!("  bootargs   \"{}\"", p.bootargs);
}

fn platform_record(w: &World<'_>, granules: &[&str], have_semihosting: bool) {
    let p = &w.platform;
    let ram_bytes = region::total_len(&p.ram);
    Record::new(&mut Console, "platform")
        .u64("el", w.regime.el().into())
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
        .hex("boot_cpu", arch::boot_mpidr())
        .hex("midr", w.cpu.midr)
        .str("core", w.cpu.core_name())
        .u64("pa_bits", w.cpu.pa_bits as u64)
        .strs("granules", granules.iter().copied())
        .str("console", console::describe())
        .str("psci", p.psci.map_or("none", |m| m.name()))
        .bool("semihosting", have_semihosting)
        .u64("counter_hz", arch::counter_hz())
        .u64("dcache_line", arch::mmu::dcache_line())
        .end();
}
