//! Networking for lab guests that talk to the host (the fleet scenario's `lastgasp submit`,
//! netconsole): QEMU's user-mode network (slirp) on a virtio NIC, and the kernel modules the
//! guest loads for it. Slirp needs no root and no host interface; the guest reaches the host's
//! loopback at [`HOST_ADDRESS`], so a host service listening on 127.0.0.1 (port 0, chosen by the
//! kernel) serves the guest without being exposed to any other machine.

use super::assets::Kernel;
use super::initramfs::{Initramfs, module_name};
use anyhow::Result;
use std::process::Command;

/// The guest's address on slirp's network (slirp's first DHCP address; the guest sets it itself).
pub const GUEST_ADDRESS: &str = "10.0.2.15";
/// The prefix length of slirp's network.
pub const PREFIX_LENGTH: u8 = 24;
/// Where the guest reaches the host: slirp maps this address to the host's 127.0.0.1.
pub const HOST_ADDRESS: &str = "10.0.2.2";

/// The modules virtio_net needs under `kernel/` of a Debian kernel, in load order (after the
/// virtio core the lab's `/init` loads already). Those a kernel builds in are absent from its
/// package and skipped by [`add_modules`].
pub const MODULES: &[&str] = &[
    "net/core/failover.ko",
    "drivers/net/net_failover.ko",
    "drivers/net/virtio_net.ko",
];

/// Adds a virtio NIC on slirp's user network to `cmd`. The NIC's option ROM (iPXE, for network
/// boot) is left out: lab guests boot their kernel directly, and the ROM is a package the host
/// need not have.
pub fn user_network(cmd: &mut Command) -> &mut Command {
    cmd.args([
        "-netdev",
        "user,id=net0",
        "-device",
        "virtio-net-pci,netdev=net0,romfile=",
    ])
}

/// The guest's command that brings its NIC up: `/bin/lab-net-up`, put in the image by
/// [`install`]. Guest scripts run it and report its failure.
pub const GUEST_COMMAND: &str = "/bin/lab-net-up";

/// Makes `image` able to join slirp's network: [`MODULES`] that `kernel` ships as modules go to
/// `lib/modules/<name>.ko`, and [`GUEST_COMMAND`] loads them in order, brings up the first
/// ethernet interface with [`GUEST_ADDRESS`] and routes through [`HOST_ADDRESS`].
pub fn install(image: &mut Initramfs, kernel: &Kernel) -> Result<()> {
    for relative in MODULES {
        let Some(module) = kernel.module(relative)? else {
            continue;
        };
        image.module(relative, &module);
    }
    image.file(
        GUEST_COMMAND.trim_start_matches('/'),
        0o755,
        guest_script().as_bytes(),
    );
    Ok(())
}

/// The script behind [`GUEST_COMMAND`] (busybox sh); exits non-zero when the NIC did not
/// come up.
fn guest_script() -> String {
    let loads: String = MODULES
        .iter()
        .map(|relative| {
            let name = module_name(relative);
            format!("[ -f /lib/modules/{name}.ko ] && insmod /lib/modules/{name}.ko\n")
        })
        .collect();
    format!(
        "#!/bin/busybox sh\n\
         # Brings the lab guest's virtio NIC up on QEMU's user network (see xtask guest_net.rs).\n\
         {loads}\
         for wait in 1 2 3 4 5 6 7 8 9 10; do [ -e /sys/class/net/eth0 ] && break; sleep 1; done\n\
         ip link set lo up &&\n\
         ip link set eth0 up &&\n\
         ip addr add {GUEST_ADDRESS}/{PREFIX_LENGTH} dev eth0 &&\n\
         ip route add default via {HOST_ADDRESS}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nic_is_virtio_on_user_networking_without_a_rom() {
        let mut cmd = Command::new("qemu-system-x86_64");
        user_network(&mut cmd);
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args,
            [
                "-netdev",
                "user,id=net0",
                "-device",
                "virtio-net-pci,netdev=net0,romfile="
            ]
        );
    }

    #[test]
    fn the_guest_script_loads_dependencies_first_and_uses_slirps_addresses() {
        let script = guest_script();
        let line = |needle: &str| {
            script
                .lines()
                .position(|line| line.contains(needle))
                .unwrap_or_else(|| panic!("no {needle:?} in {script}"))
        };
        assert!(line("/failover.ko") < line("/net_failover.ko"));
        assert!(line("/net_failover.ko") < line("/virtio_net.ko"));
        assert!(line("/virtio_net.ko") < line("ip link set eth0 up"));
        assert!(script.contains("ip addr add 10.0.2.15/24 dev eth0"));
        assert!(script.contains("ip route add default via 10.0.2.2\n"));
        assert!(script.starts_with("#!/bin/busybox sh\n"));
    }
}
