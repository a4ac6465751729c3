//! cai-rtc
