//! A service binary's `--help` as a contract (`common::command::Usage`).
use std::process::Command;

/// Asserts that `binary --help`, run with an empty environment, exits 0 with help on
/// stdout naming `name`, each of `needs` (the settings a start needs, as the config reports
/// them) and the service's reference; and that an unknown command exits 1 with the usage.
pub fn assert_explains_itself(binary: &str, name: &str, needs: &[&str]) {
    // An empty environment: the settings listed are the code's, not this machine's.
    let help = Command::new(binary)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{help:?}");
    assert!(text.starts_with(&format!("{name}: ")), "{text}");
    let reference = format!("docs/services/{name}.md");
    for needed in needs.iter().copied().chain([reference.as_str()]) {
        assert!(text.contains(needed), "{needed} missing from {text}");
    }
    let unknown = Command::new(binary).arg("--hlep").output().unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    let usage = format!("usage: {name} [");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains(&usage));
}
