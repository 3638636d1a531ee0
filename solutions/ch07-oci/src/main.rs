//! The chapter 7 runtime: `oci [--root DIR] create|start|state|kill|delete|run|list|exec …`.

fn main() {}
