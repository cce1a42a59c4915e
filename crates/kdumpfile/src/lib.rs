//! The kdump-compressed dump format (makedumpfile's "KDUMP   " files): writer and reader.
