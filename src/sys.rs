//! Thin wrappers over the raw syscalls that `nix` does not cover. This is the one module that
//! uses `libc` directly; every `unsafe` here carries a `// SAFETY:` line.
