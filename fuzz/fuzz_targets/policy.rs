#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spamward_fuzz::policy(data));
