#!/usr/bin/env python3
"""Makes boot2.log from boot1.log for the synthetic corpus: the same crash on another boot.

What changes between boots of the same kernel and module: timestamps, PIDs, the CPU, every
address and register value (KASLR, module load address, heap), the KASLR offset, and the stale
`? ` frames the unwinder happens to find. Symbol offsets and the code stay (same build).
Run from this directory: ./second_boot.py
"""
import pathlib
import re

SHIFT = 113.377001


def shift_ts(m):
    value = float(m.group(2)) + SHIFT
    return f"{m.group(1)}[{value:12.6f}]"


def new_hex(m):
    word = m.group(0)
    # Kernel and user-space addresses move; small values (the NULL offset) do not.
    if not (word.startswith("f") or word.startswith("00007f")):
        return word
    return f"{int(word, 16) ^ 0x5a5a3c3c00:016x}"


def transform(text):
    out = []
    for line in text.splitlines():
        line = re.sub(r"(^|<\d>)\[\s*(\d+\.\d+)\]", shift_ts, line)
        line = re.sub(r"\b[0-9a-f]{16}\b", new_hex, line)
        line = re.sub(r"PID: (\d+)", lambda m: f"PID: {int(m.group(1)) + 17}", line)
        line = re.sub(r"pid:(\d+)", lambda m: f"pid:{int(m.group(1)) + 17}", line)
        line = re.sub(r"\[(\w+):(\d+)\]$", lambda m: f"[{m.group(1)}:{int(m.group(2)) + 17}]", line)
        line = re.sub(r"task (\w+):(\d+) ", lambda m: f"task {m.group(1)}:{int(m.group(2)) + 17} ", line)
        line = re.sub(r"CPU: 0 ", "CPU: 1 ", line)
        line = re.sub(r"CPU#0", "CPU#1", line)
        line = re.sub(r"Kernel Offset: 0x[0-9a-f]+", "Kernel Offset: 0x3c600000", line)
        if line.endswith(" entry_SYSCALL_64_after_hwframe+0x6e/0xd8"):
            prefix = line[: line.index(" entry_SYSCALL")]
            out.append(prefix + " ? syscall_exit_to_user_mode+0x1e/0x40")
        out.append(line)
    return "\n".join(out) + "\n"


for boot1 in sorted(pathlib.Path(".").glob("*/*/boot1.log")):
    boot1.with_name("boot2.log").write_text(transform(boot1.read_text()))
