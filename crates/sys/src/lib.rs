//! Every system call lastgasp makes that needs `unsafe`: kexec_file_load, reboot, mounts, module loading.
