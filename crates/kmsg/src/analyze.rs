//! `analyze`: puts lines, crash blocks, details and signatures together into an `Analysis`.

use crate::block::{Block, headline_owner, read_block, read_block_of_cpu};
use crate::class::Class;
use crate::compat::{self, abrt_duphash, abrt_frames, chromeos_signature};
use crate::cpuline::{banner_release, parse_cpu_line};
use crate::frame::{base_name, parse_symbol};
use crate::guilty;
use crate::line::{Line, split_lines};
use crate::lockdep;
use crate::model::{Analysis, Frame, Hashes};
use crate::modules::{parse_kernel_offset, parse_modules};
use crate::scan::{Choice, choose};
use crate::signature::{self, Input, is_list_checker};

/// Analyses any kernel log text. Never panics; a log without a crash gives class `unknown`.
pub fn analyze(text: &str) -> Analysis {
    let lines = split_lines(text);
    let chromeos = chromeos_signature(&lines);
    match choose(&lines) {
        Some(choice) => from_choice(&lines, choice, chromeos),
        None => no_crash(&lines, chromeos),
    }
}

fn from_choice(lines: &[Line<'_>], choice: Choice, chromeos: String) -> Analysis {
    let event = &choice.event;
    let headline_line = lines.get(event.lines.start).map_or("", |l| l.trimmed());
    let mut block = read_block_of_cpu(lines, event.lines.clone(), headline_owner(headline_line));
    // A report without a trace of its own (sysrq's one line, a panic whose oops scrolled out
    // of the record) takes the panic's.
    if let Some(panic) = &choice.panic
        && panic.lines != event.lines
        && block.frames.is_empty()
        && block.fault.is_none()
    {
        let pb = read_block(lines, panic.lines.clone());
        block.frames = pb.frames;
        block.fault = pb.fault;
        block.link = pb.link;
        block.has_trace = pb.has_trace;
        block.cpu = block.cpu.or(pb.cpu);
        block.hardware = block.hardware.or(pb.hardware);
        block.modules = block.modules.or(pb.modules);
    }
    let segment = lines.get(choice.segment.clone()).unwrap_or_default();
    fill_from_segment(&mut block, segment);
    let class = refine_class(choice.class, block.fault.as_ref());

    let panic_message = choice.panic.as_ref().and_then(|p| p.message.clone());
    let mut named: Vec<Frame> =
        named_function(class, event.function.as_deref(), panic_message.as_deref())
            .into_iter()
            .collect();
    if class == Class::Lockdep {
        named.extend(lockdep::at_frames(lines, event.lines.clone()));
    }
    // `BUG: workqueue leaked lock or atomic: …` names the work function on a later line.
    if let Some(f) = lines
        .get(event.lines.clone())
        .unwrap_or_default()
        .iter()
        .find_map(|l| l.trimmed().strip_prefix("last function: "))
        .and_then(|f| named_function(Class::Bug, Some(f), None))
    {
        named.push(f);
    }
    let headline_text = lines.get(event.lines.start).map_or("", |l| l.trimmed());
    let rules = guilty::rules_for(class, headline_text, event.location.as_deref());
    let sig = signature::compute(&Input {
        class,
        fault: block.fault.as_ref(),
        frames: &block.frames,
        named: &named,
        rules,
        location: event.location.as_deref(),
        panic_message: panic_message.as_deref(),
    });
    // A report without frames of its own (sysrq's one line) is hashed with the panic's, as
    // its trace is.
    let mut abrt_frames = abrt_frames(lines, event.lines.clone());
    if abrt_frames.is_empty()
        && let Some(panic) = &choice.panic
    {
        abrt_frames = compat::abrt_frames(lines, panic.lines.clone());
    }
    let faulting_function = block
        .fault
        .as_ref()
        .or_else(|| block.frames.iter().find(|f| f.reliable))
        .map(|f| base_name(&f.function).to_owned());
    let crash_time = lines.get(event.lines.start).and_then(|l| l.ts).or_else(|| {
        let p = choice.panic.as_ref()?;
        lines.get(p.lines.start)?.ts
    });
    let headline = lines.get(event.lines.start).map(|l| l.trimmed().to_owned());
    let module_of_function = sig
        .names
        .first()
        .and_then(|n| n.split_once(':'))
        .map(|(m, _)| m);
    let title = title(
        class,
        sig.function.as_deref(),
        module_of_function,
        event.location.as_deref(),
        panic_message.as_deref(),
    );
    let (modules, last_unloaded) = block.modules.unwrap_or_default();
    let cpu = block.cpu.unwrap_or_default();
    Analysis {
        class: class.name().to_owned(),
        signature: sig.text,
        title,
        function: sig.function,
        faulting_function,
        headline,
        panic_message,
        kernel_release: cpu.release,
        kernel_build: cpu.build,
        crash_time,
        cpu: cpu.cpu,
        pid: cpu.pid,
        comm: cpu.comm,
        taint: cpu.taint,
        hardware: block.hardware,
        fault_frame: block.fault,
        link_register: block.link,
        fault_address: event.address.clone(),
        hashes: Hashes {
            chromeos: Some(chromeos),
            abrt: abrt_duphash(&abrt_frames),
        },
        frames: block.frames,
        signature_frames: sig.names,
        modules,
        last_unloaded,
        kernel_offset: segment.iter().find_map(|l| parse_kernel_offset(l.text)),
        bug_location: event.location.clone(),
        oops_count: choice.oops_count,
    }
}

/// A fault inside CONFIG_DEBUG_LIST's checkers is list corruption: the checker crashed on a
/// poisoned or wild pointer while validating the list, before it could say so.
fn refine_class(class: Class, fault: Option<&Frame>) -> Class {
    let faulted = matches!(
        class,
        Class::PageFault | Class::NullPointerDereference | Class::GeneralProtectionFault
    );
    match fault {
        Some(f) if faulted && is_list_checker(base_name(&f.function)) => Class::ListCorruption,
        _ => class,
    }
}

/// Details the block itself lacked, from anywhere in its boot: a truncated record may have
/// lost the CPU line of the crash but kept an earlier one.
fn fill_from_segment(block: &mut Block, segment: &[Line<'_>]) {
    let cpu = block.cpu.get_or_insert_with(Default::default);
    if cpu.release.is_none() {
        if let Some(other) = segment
            .iter()
            .filter_map(|l| parse_cpu_line(l.text))
            .find(|c| c.release.is_some())
        {
            cpu.release = other.release;
            cpu.build = other.build;
            if cpu.taint.is_none() {
                cpu.taint = other.taint;
            }
        } else {
            cpu.release = segment.iter().find_map(|l| banner_release(l.text));
        }
    }
    if block.hardware.is_none() {
        block.hardware = segment.iter().find_map(|l| {
            let hw = l.trimmed().strip_prefix("Hardware name: ")?;
            Some(hw.trim().to_owned())
        });
    }
    if block.modules.is_none() {
        block.modules = segment.iter().find_map(|l| parse_modules(l.text));
    }
}

/// The function a report names in its own text: stack-protector's victim from the panic
/// message, WARNING's and KASAN's `%pS`.
fn named_function(class: Class, headline_fn: Option<&str>, panic: Option<&str>) -> Option<Frame> {
    let raw = if class == Class::StackProtector {
        panic?.split_once("corrupted in: ")?.1
    } else {
        headline_fn?
    };
    parse_symbol(raw).or_else(|| {
        let end = raw.find(['+', '(', ' ']).unwrap_or(raw.len());
        let name = &raw[..end];
        (!name.is_empty()).then(|| Frame::bare(name))
    })
}

fn title(
    class: Class,
    function: Option<&str>,
    module: Option<&str>,
    location: Option<&str>,
    panic: Option<&str>,
) -> String {
    let mut t = match (class, panic) {
        (Class::Panic, Some(msg)) => format!("Kernel panic - not syncing: {msg}"),
        _ => class.label().to_owned(),
    };
    if class != Class::Panic
        && let Some(loc) = location
    {
        t.push_str(" at ");
        t.push_str(loc);
    }
    if let Some(f) = function {
        t.push_str(" in ");
        t.push_str(f);
        if let Some(m) = module {
            t.push_str(" [");
            t.push_str(m);
            t.push(']');
        }
    }
    t
}

fn no_crash(lines: &[Line<'_>], chromeos: String) -> Analysis {
    let mut block = Block::default();
    fill_from_segment(&mut block, lines);
    let sig = signature::compute(&Input {
        class: Class::Unknown,
        fault: None,
        frames: &[],
        named: &[],
        rules: guilty::Rules::PLAIN,
        location: None,
        panic_message: None,
    });
    let cpu = block.cpu.unwrap_or_default();
    let (modules, last_unloaded) = block.modules.unwrap_or_default();
    Analysis {
        class: Class::Unknown.name().to_owned(),
        signature: sig.text,
        title: "No crash found in the log".to_owned(),
        function: None,
        faulting_function: None,
        headline: None,
        panic_message: None,
        kernel_release: cpu.release,
        kernel_build: cpu.build,
        crash_time: None,
        cpu: None,
        pid: None,
        comm: None,
        taint: None,
        hardware: block.hardware,
        fault_frame: None,
        link_register: None,
        fault_address: None,
        frames: Vec::new(),
        signature_frames: Vec::new(),
        modules,
        last_unloaded,
        kernel_offset: lines.iter().find_map(|l| parse_kernel_offset(l.text)),
        bug_location: None,
        oops_count: 0,
        hashes: Hashes {
            chromeos: Some(chromeos),
            abrt: None,
        },
    }
}
